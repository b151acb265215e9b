// Request generation for the CRI fuzzer, driven by the proto schema (every rpc of both services,
// every field of every request message) and a seeded PRNG, so a run is repeatable from its seed.
// Values are drawn from hostile pools (huge, NUL, "..", /proc paths, extreme and negative
// integers, unknown enum numbers) mixed with plausible ones, so calls reach past the first check.
import protobuf from 'protobufjs';
import { PROTO_PATH } from '../../pkg/cri/proto.js';

export type Rng = () => number;

/** mulberry32: small, fast, good enough for test input, same sequence for the same seed. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;

export interface FuzzMethod {
  service: 'RuntimeService' | 'ImageService';
  name: string;
  stream: boolean;
  request: protobuf.Type;
}

/** Every rpc of RuntimeService and ImageService, from proto/api.proto. */
export function loadMethods(): FuzzMethod[] {
  const root = new protobuf.Root();
  root.loadSync(PROTO_PATH, { keepCase: true });
  root.resolveAll();
  const out: FuzzMethod[] = [];
  for (const service of ['RuntimeService', 'ImageService'] as const) {
    for (const m of root.lookupService(`runtime.v1.${service}`).methodsArray) {
      out.push({ service, name: m.name, stream: !!m.responseStream, request: m.resolvedRequestType ?? root.lookupType(m.requestType) });
    }
  }
  return out;
}

/** Real ids the generator may use, so calls reach existing objects. */
export interface KnownIds {
  sandboxes: string[];
  containers: string[];
}

const KiB = 1024;

/** Hostile and plausible strings; the generator also makes huge ones on demand. */
export const STRINGS: readonly string[] = [
  '', 'a', 'web-0', 'default', '..', '../..', '../../../../etc/passwd', '/', '/etc/passwd', '/proc/sysrq-trigger/x',
  '/proc/self/fd/0', '/sys/kernel/x', '/dev/zero', '/dev/null', '/tmp/berth-fuzz', 'a\0b', '\0', 'line\nbreak', 'x;y=z',
  'K8S_POD_NAME=x', '%s%n%x', '{"a":1}', '${HOME}', '$(id)', 'ünïcødé', '\u202e', 'sha256:' + 'f'.repeat(64), 'f'.repeat(64),
  'ALL', 'CAP_SYS_ADMIN', 'CAP_FLY', 'net_admin', 'Localhost', 'unconfined', 'runtime/default', 'localhost//etc/passwd',
  '10.0.0.0/24', '10.0.0.0/24", "dataDir": "/tmp/x', '127.0.0.1', '::1', 'not-an-ip', 'rwm', 'rwx', 'busybox', 'SIGKILL', '-1',
];

const INTS: readonly (number | string)[] = [
  0, 1, -1, 2, 80, 65535, 65536, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 32 - 1, 2 ** 53, -(2 ** 53), 2_147_484,
  '9223372036854775807', '-9223372036854775808', '18446744073709551615',
];

const INT64_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

export class RequestGen {
  constructor(private readonly rng: Rng, private readonly ids: () => KnownIds) {}

  private huge(): string {
    const n = pick(this.rng, [300, 4097, 64 * KiB, 87_600, 300 * KiB, 1100 * KiB]);
    return pick(this.rng, ['a', 'x', '/', '.', '\0', 'é']).repeat(n);
  }

  private idLike(field: string): string {
    const ids = this.ids();
    const pool = field === 'pod_sandbox_id' ? ids.sandboxes : field === 'id' ? [...ids.sandboxes, ...ids.containers] : ids.containers;
    const r = this.rng();
    if (pool.length && r < 0.5) {
      const id = pick(this.rng, pool);
      return r < 0.4 ? id : id.slice(0, 1 + Math.floor(this.rng() * 12));
    }
    return r < 0.95 ? pick(this.rng, STRINGS) : this.huge();
  }

  string(field: string): string {
    if (field.endsWith('_id') || field === 'id') return this.idLike(field);
    return this.rng() < 0.97 ? pick(this.rng, STRINGS) : this.huge();
  }

  private scalar(f: protobuf.Field): unknown {
    const rt = f.resolvedType;
    if (rt instanceof protobuf.Enum) {
      // Unknown numbers too: the wire allows any int32.
      return this.rng() < 0.8 ? pick(this.rng, Object.keys(rt.values)) : pick(this.rng, [99, -1, 2 ** 31 - 1]);
    }
    switch (f.type) {
      case 'string': return this.string(f.name);
      case 'bytes': return this.rng() < 0.97 ? Buffer.from(pick(this.rng, STRINGS)) : Buffer.from(this.huge());
      case 'bool': return this.rng() < 0.5;
      case 'double': case 'float': return pick(this.rng, [0, -1, 1.5, 1e308, -1e308]);
      default: {
        const v = pick(this.rng, INTS);
        // int32 fields get int32-sized numbers (protobufjs would wrap larger ones anyway).
        return INT64_TYPES.has(f.type) ? v : typeof v === 'string' ? 2 ** 31 - 1 : Math.max(-(2 ** 31), Math.min(2 ** 32 - 1, v));
      }
    }
  }

  private single(f: protobuf.Field, depth: number): unknown {
    const rt = f.resolvedType;
    if (rt instanceof protobuf.Type) return this.message(rt, depth + 1);
    return this.scalar(f);
  }

  /** Entries of a list or map: mostly a few, now and then many. */
  private count(): number {
    return this.rng() < 0.03 ? 2000 : pick(this.rng, [0, 1, 1, 2, 3, 5, 40]);
  }

  field(f: protobuf.Field, depth: number): unknown {
    if (f.map) {
      const out: Record<string, unknown> = {};
      for (let i = this.count(); i > 0; i--) out[this.rng() < 0.7 ? `k${i}` : this.string('key')] = this.single(f, depth);
      return out;
    }
    if (f.repeated) return Array.from({ length: this.count() }, () => this.single(f, depth));
    return this.single(f, depth);
  }

  /** A random message of type `t`: each field present with a probability that falls with depth. */
  message(t: protobuf.Type, depth = 0): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (depth > 8) return out;
    const p = depth < 2 ? 0.7 : 0.45;
    for (const f of t.fieldsArray) if (this.rng() < p) out[f.name] = this.field(f, depth);
    return out;
  }

  /** A valid-looking request with 1–3 fields, chosen along the schema, replaced by generated values. */
  mutate(t: protobuf.Type, base: Record<string, unknown>): Record<string, unknown> {
    const copy = structuredClone(base);
    if (!t.fieldsArray.length) return copy;
    for (let n = 1 + Math.floor(this.rng() * 3); n > 0; n--) {
      let type = t;
      let obj = copy;
      for (let depth = 0; ; depth++) {
        const f = pick(this.rng, type.fieldsArray);
        const rt = f.resolvedType;
        const deeper = rt instanceof protobuf.Type && rt.fieldsArray.length > 0 && !f.map && !f.repeated && depth < 6 && this.rng() < 0.7;
        if (!deeper) {
          obj[f.name] = this.field(f, depth);
          break;
        }
        const next = obj[f.name];
        obj = (next && typeof next === 'object' && !Buffer.isBuffer(next) ? next : (obj[f.name] = {})) as Record<string, unknown>;
        type = rt as protobuf.Type;
      }
    }
    return copy;
  }

  /** Bytes that are not a valid message: garbage, a truncated varint, deeply nested groups. */
  rawBytes(): Buffer {
    switch (Math.floor(this.rng() * 4)) {
      case 0: return Buffer.from(Array.from({ length: 1 + Math.floor(this.rng() * 64) }, () => Math.floor(this.rng() * 256)));
      case 1: return Buffer.from([0x10, 0xff]); // a varint cut short
      case 2: return Buffer.concat([Buffer.alloc(20_000, 0x0b), Buffer.alloc(20_000, 0x0c)]); // 20k nested groups of field 1
      default: return Buffer.from([0x08]); // a tag without its value
    }
  }
}
