// The first check of every CRI request, before any handler runs: walks the decoded request along
// its proto schema and refuses, with INVALID_ARGUMENT naming the field, what no handler should
// ever see — oversized strings and lists, NUL bytes, ids that cannot be ids, enum numbers the
// schema does not know. Per-field meaning (paths, names, capabilities…) is checked later by each
// domain's request validation; this only bounds the shape.
import type { MethodDef } from '../grpc/server.js';
import protobuf from 'protobufjs';
import { InvalidArgumentError, errorMessage, quote } from '../errors/errors.js';
import { PROTO_PATH, protoRoot } from './proto.js';

const KiB = 1024;

/** The bounds; README "Input limits" explains each. */
export const LIMITS = {
  /** berth's ids are 64 hex digits; a shorter value is a prefix. */
  id: 64,
  /** PATH_MAX less the NUL. */
  path: 4095,
  /** NAME_MAX: one path component. */
  pathComponent: 255,
  /** One argv or env string: the kernel's MAX_ARG_STRLEN. */
  arg: 128 * KiB,
  /** One label or annotation (Kubernetes allows 256 KiB of annotations per object). */
  label: 256 * KiB,
  /** A credential (tokens run to a few KiB). */
  credential: 64 * KiB,
  /** Any other string: names, image references, addresses, cgroup values. */
  text: 4 * KiB,
  /** Entries of one repeated field or map. */
  entries: 10_000,
} as const;

type Rule = { max: number; kind: 'id' | 'path' | 'plain'; nul: boolean };

const ID_FIELDS = new Set(['container_id', 'pod_sandbox_id', 'target_id', 'id']);
const PATH_FIELDS = new Set([
  'host_path', 'container_path', 'log_directory', 'log_path', 'working_dir', 'localhost_ref', 'seccomp_profile_path',
  'apparmor_profile', 'masked_paths', 'readonly_paths', 'location', 'image_sub_path', 'cgroup_parent',
]);
const ARG_FIELDS = new Set(['command', 'args', 'cmd']);
const LABEL_MAPS = new Set(['labels', 'annotations', 'label_selector']);
const CREDENTIAL_FIELDS = new Set(['username', 'password', 'auth', 'identity_token', 'registry_token']);

/** The rule for a string (or bytes) field, by its name and the message it is in. */
export function ruleFor(field: string, message: string, mapValueOf?: string): Rule {
  if (mapValueOf) {
    // Annotation values are opaque data (JSON in the spec and the database); NUL is harmless there.
    if (LABEL_MAPS.has(mapValueOf)) return { max: LIMITS.label, kind: 'plain', nul: mapValueOf !== 'annotations' };
    return { max: LIMITS.text, kind: 'plain', nul: true };
  }
  if (ID_FIELDS.has(field)) return { max: LIMITS.id, kind: 'id', nul: true };
  if (PATH_FIELDS.has(field)) return { max: LIMITS.path, kind: 'path', nul: true };
  if (ARG_FIELDS.has(field) || message === 'KeyValue') return { max: LIMITS.arg, kind: 'plain', nul: true };
  if (CREDENTIAL_FIELDS.has(field) && message === 'AuthConfig') return { max: LIMITS.credential, kind: 'plain', nul: true };
  return { max: LIMITS.text, kind: 'plain', nul: true };
}

// berth's ids are hex; other tokens are let through to be unknown ids (StopContainer of an unknown
// id succeeds, as CRI asks), but nothing that could not be a token.
const ID_RE = /^[A-Za-z0-9_.-]*$/;

/** Checks one string or bytes value against its rule; throws naming `where`. */
export function checkValue(where: string, v: string | Uint8Array, rule: Rule): void {
  const len = v.length;
  if (len > rule.max) {
    const hint = rule.kind === 'id' ? ' (an id is 64 hex digits, or a prefix of one)' : '';
    throw new InvalidArgumentError(`${where} is ${len} ${typeof v === 'string' ? 'characters' : 'bytes'} long, over the limit of ${rule.max}${hint}`);
  }
  if (rule.nul && (typeof v === 'string' ? v.includes('\0') : v.includes(0))) throw new InvalidArgumentError(`${where} contains a NUL byte`);
  if (typeof v !== 'string') return;
  if (rule.kind === 'id' && !ID_RE.test(v)) throw new InvalidArgumentError(`${where} ${quote(v)} is not an id (64 hex digits, or a prefix of one)`);
  if (rule.kind === 'path') {
    const long = v.split('/').find((c) => Buffer.byteLength(c) > LIMITS.pathComponent);
    if (long !== undefined) throw new InvalidArgumentError(`${where} has a path component of ${Buffer.byteLength(long)} bytes, over the limit of ${LIMITS.pathComponent}`);
  }
}

/** Checks decoded requests (proto-loader objects: keepCase, enums as names) along the schema. */
export class RequestGuard {
  private readonly root: protobuf.Root;

  constructor(protoPath = PROTO_PATH) {
    this.root = protoRoot(protoPath);
  }

  /** The request message type of `Service.Method` (e.g. runtime.v1.RuntimeService). */
  requestType(service: string, method: string): protobuf.Type {
    const svc = this.root.lookupService(service);
    const m = svc.methods[method];
    if (!m) throw new Error(`no method ${service}.${method}`);
    return m.resolvedRequestType ?? this.root.lookupType(m.requestType);
  }

  check(type: protobuf.Type, value: unknown, where = ''): void {
    if (value instanceof MalformedRequest) throw new InvalidArgumentError(`the request is not a valid ${type.name} message: ${value.reason}`);
    if (value === null || value === undefined || typeof value !== 'object') return;
    const obj = value as Record<string, unknown>;
    for (const f of type.fieldsArray) {
      const v = obj[f.name];
      if (v === undefined || v === null) continue;
      const at = where ? `${where}.${f.name}` : f.name;
      if (f.map) {
        const entries = Object.entries(v as Record<string, unknown>);
        if (entries.length > LIMITS.entries) throw new InvalidArgumentError(`${at} has ${entries.length} entries, over the limit of ${LIMITS.entries}`);
        for (const [k, mv] of entries) {
          checkValue(`${at} key ${quote(k, 40)}`, k, ruleFor('', type.name, 'key'));
          this.checkField(f, mv, `${at}[${quote(k, 40)}]`, type.name, f.name);
        }
      } else if (f.repeated) {
        const list = v as unknown[];
        if (list.length > LIMITS.entries) throw new InvalidArgumentError(`${at} has ${list.length} entries, over the limit of ${LIMITS.entries}`);
        list.forEach((item, i) => this.checkField(f, item, `${at}[${i}]`, type.name));
      } else this.checkField(f, v, at, type.name);
    }
  }

  private checkField(f: protobuf.Field, v: unknown, at: string, message: string, mapName?: string): void {
    if (v === undefined || v === null) return;
    const rt = f.resolvedType;
    if (rt instanceof protobuf.Type) return this.check(rt, v, at);
    if (rt instanceof protobuf.Enum) {
      if (typeof v === 'number' || (typeof v === 'string' && !(v in rt.values))) {
        throw new InvalidArgumentError(`${at}: ${String(v)} is not a ${rt.name} value (known: ${Object.keys(rt.values).join(', ')})`);
      }
      return;
    }
    if (typeof v === 'string' || v instanceof Uint8Array) checkValue(at, v, ruleFor(f.name, message, mapName));
  }
}

/** What a request that does not decode becomes, so its handler answers INVALID_ARGUMENT. */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

/**
 * The service definition with request decoders that never throw, so that a request that does
 * not decode reaches the guard and is refused naming the message it should have been.
 */
export function tolerantDeserializers<D extends MethodDef>(def: Record<string, D>): Record<string, D> {
  const out: Record<string, D> = {};
  for (const [name, md] of Object.entries(def)) {
    out[name] = {
      ...md,
      requestDeserialize: (buf: Buffer) => {
        try {
          return md.requestDeserialize(buf);
        } catch (err) {
          return new MalformedRequest(errorMessage(err));
        }
      },
    };
  }
  return out;
}
