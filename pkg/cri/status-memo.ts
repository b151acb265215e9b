// Status answers from memory. kubelet asks ContainerStatus and PodSandboxStatus of every container
// and pod each second, and the answer changes only when the container or pod does; building the
// CRI object and encoding it (protobufjs: an object per field, int64 strings parsed) was the largest
// part of berth's own work per call, and a third of what it allocated. So the CRI status is kept per
// domain record while none of the record's top-level fields changed, and its encoding per status
// object; an answer is the cached bytes plus the few fields that change per call (verbose info, a
// timestamp), encoded as usual.
import protobuf from 'protobufjs';
import type { MethodDef } from '../grpc/server.js';

/**
 * The value derived from a source object, made again once any of the source's own top-level
 * fields is no longer the same (===) as when it was made. The container and sandbox stores change
 * a record only by assigning its top-level fields (Object.assign of a patch, or one field), never
 * inside a nested value, so every state change (start, exit, stop, update resources…) is seen.
 */
export class DerivedMemo<S extends object, T> {
  private readonly memo = new WeakMap<S, { seen: unknown[]; value: T }>();

  constructor(private readonly derive: (source: S) => T) {}

  get(source: S): T {
    const hit = this.memo.get(source);
    if (hit && unchanged(source, hit.seen)) return hit.value;
    const value = this.derive(source);
    this.memo.set(source, { seen: Object.values(source), value });
    return value;
  }
}

/** True when `o`'s own enumerable values are `seen`, in order (a field added or removed counts). */
function unchanged(o: object, seen: unknown[]): boolean {
  let n = 0;
  for (const k in o) {
    if ((o as Record<string, unknown>)[k] !== seen[n++]) return false;
  }
  return n === seen.length;
}

/** The rpcs whose answer's `status` field is encoded once per status object. */
const MEMO_STATUS = new Set(['ContainerStatus', 'PodSandboxStatus']);

/**
 * The encoder of a unary CRI answer: for the status rpcs, the `status` field's bytes come from a
 * cache kept per status object (DerivedMemo hands back the same one while the record is
 * unchanged) and the rest is encoded per call, after it (protobuf takes fields in any order).
 * Other rpcs: `def`'s own encoder.
 */
export function answerEncoder(method: string, def: MethodDef, root: protobuf.Root): (value: unknown) => Buffer {
  if (!MEMO_STATUS.has(method)) return (v) => def.responseSerialize(v);
  const field = root.lookupType(`runtime.v1.${method}Response`).fields.status!;
  const type = field.resolvedType as protobuf.Type;
  const encoded = new WeakMap<object, Buffer>();
  const statusField = (status: object): Buffer => {
    let bytes = encoded.get(status);
    if (!bytes) {
      const body = type.encode(type.fromObject(status)).finish();
      bytes = Buffer.from(protobuf.Writer.create().uint32((field.id << 3) | 2).bytes(body).finish());
      encoded.set(status, bytes);
    }
    return bytes;
  };
  return (value) => {
    const v = value as { status?: object | null };
    if (!v.status) return def.responseSerialize(v);
    const head = statusField(v.status);
    const rest = def.responseSerialize({ ...v, status: null });
    return rest.length ? Buffer.concat([head, rest]) : head;
  };
}
