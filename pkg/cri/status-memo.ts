// Status answers from memory. kubelet lists and asks ContainerStatus and PodSandboxStatus of every
// container and pod each second, and the answer changes only when the container or pod does; building the
// CRI object and encoding it (protobufjs: an object per field, int64 strings parsed) was the largest
// part of berth's own work per call, and a third of what it allocated. So the CRI status (or list
// item) is kept per domain record while none of the record's top-level fields changed, and its
// encoding per object; an answer is the cached bytes plus the few fields that change per call
// (verbose info, a timestamp), encoded as usual.
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

/**
 * The answers whose big field is made of objects a DerivedMemo keeps (a status, or the items of a
 * list): that field's bytes are encoded once per object.
 */
const MEMO_FIELD: Record<string, string> = {
  ContainerStatus: 'status',
  PodSandboxStatus: 'status',
  ListContainers: 'containers',
  ListPodSandbox: 'items',
  ImageStatus: 'image',
  ListImages: 'images',
};

/**
 * The encoder of a unary CRI answer. For the rpcs above, the memo field's bytes (a status, or
 * each item of a list) come from a cache kept per object, and the rest is encoded per call, after
 * it (protobuf takes a message's fields in any order, and a repeated field's items need not be
 * adjacent). Other rpcs: `def`'s own encoder.
 */
export function answerEncoder(method: string, def: MethodDef, root: protobuf.Root): (value: unknown) => Buffer {
  const name = MEMO_FIELD[method];
  if (!name) return (v) => def.responseSerialize(v);
  const response = root.lookupType(`runtime.v1.${method}Response`);
  const field = response.fields[name]!;
  const type = field.resolvedType as protobuf.Type;
  const others = response.fieldsArray.filter((f) => f !== field);
  const encoded = new WeakMap<object, Buffer>();
  const fieldBytes = (obj: object): Buffer => {
    let bytes = encoded.get(obj);
    if (!bytes) {
      const body = type.encode(type.fromObject(obj)).finish();
      bytes = Buffer.from(protobuf.Writer.create().uint32((field.id << 3) | 2).bytes(body).finish());
      encoded.set(obj, bytes);
    }
    return bytes;
  };
  return (value) => {
    const v = value as Record<string, unknown>;
    const memo = v[name] as object | object[] | null | undefined;
    if (!memo || (Array.isArray(memo) && !memo.length)) return def.responseSerialize(v);
    const parts = Array.isArray(memo) ? memo.map(fieldBytes) : [fieldBytes(memo)];
    // The other fields, less the empty maps and lists (they encode to nothing): most answers
    // have none left (ContainerStatus without verbose), so nothing more is encoded.
    const rest = nonEmpty(others, v);
    if (rest) parts.push(def.responseSerialize(rest));
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  };
}

/** `v`'s values of `fields` but empty maps and repeated fields; undefined when nothing is left. */
function nonEmpty(fields: protobuf.Field[], v: Record<string, unknown>): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const f of fields) {
    const x = v[f.name];
    if (x === undefined || x === null) continue;
    if (f.map ? isEmptyObject(x as object) : f.repeated && !(x as unknown[]).length) continue;
    (out ??= {})[f.name] = x;
  }
  return out;
}

function isEmptyObject(o: object): boolean {
  for (const _ in o) return false;
  return true;
}
