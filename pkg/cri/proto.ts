import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { PROJECT_ROOT } from '../version/version.js';
import type { ProtoGrpcType } from './gen/api.js';
import type { ProtoGrpcType as BerthProtoGrpcType } from './gen/berth.js';

/** proto/api.proto, under the project root (the same from dist/ and from the bundle). */
export const PROTO_PATH = path.join(PROJECT_ROOT, 'proto/api.proto');
/** berth's own services (proto/berth/v1/berth.proto), served beside CRI. */
export const BERTH_PROTO_PATH = path.resolve(path.dirname(PROTO_PATH), 'berth/v1/berth.proto');

// The same options the generated types (scripts/gen-types.mjs) were made with: snake_case
// fields as on the wire, int64 as decimal strings (nanosecond timestamps exceed 2^53), enums by name.
export const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

const roots = new Map<string, protobuf.Root>();

/** The JSON descriptor `npm run build` makes of a proto file under proto/ (scripts/gen-types.mjs), in dist/proto/. */
export function descriptorPath(file: string): string {
  return path.join(PROJECT_ROOT, 'dist', path.relative(PROJECT_ROOT, file).replace(/\.proto$/, '.json'));
}

/** The root in `descriptor` when it was made from this version of `file`. */
function fromDescriptor(file: string, descriptor: string): protobuf.Root | undefined {
  let d: { sha256: string; root: protobuf.INamespace };
  try {
    d = JSON.parse(readFileSync(descriptor, 'utf8')) as typeof d;
  } catch {
    return undefined;
  }
  // Only the proto file's own text is compared: berth's protos import none.
  if (d.sha256 !== createHash('sha256').update(readFileSync(file)).digest('hex')) return undefined;
  return protobuf.Root.fromJSON(d.root);
}

/**
 * A proto file's root (keepCase, resolved), from its build-time JSON descriptor when that was
 * made from the same text, else parsed: the parse adds some 30 ms to the daemon's start-up.
 */
export function loadRoot(file: string, descriptor = descriptorPath(file)): protobuf.Root {
  let root = fromDescriptor(file, descriptor);
  if (!root) {
    root = new protobuf.Root();
    root.loadSync(file, { keepCase: true });
  }
  root.resolveAll();
  return root;
}

/** A proto file loaded once; the request guard reads the same root. */
export function protoRoot(file: string): protobuf.Root {
  let root = roots.get(file);
  if (!root) {
    root = loadRoot(file);
    roots.set(file, root);
  }
  return root;
}

/**
 * Service definitions as @grpc/proto-loader makes them (the same encode and decode), without
 * the descriptors of every message it also builds: those cost a third of the daemon's start-up
 * and memory for the life of the process, and nothing here reads them.
 */
function packageDefinition(root: protobuf.Root): Parameters<typeof grpc.loadPackageDefinition>[0] {
  const def: Parameters<typeof grpc.loadPackageDefinition>[0] = {};
  const serializer = (t: protobuf.Type) => (arg: object) => {
    if (Array.isArray(arg)) throw new Error(`Failed to serialize message: expected object with ${t.name} structure, got array instead`);
    return t.encode(t.fromObject(arg)).finish() as Buffer;
  };
  const deserializer = (t: protobuf.Type) => (buf: Buffer) => t.toObject(t.decode(buf), LOADER_OPTIONS);
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Service) {
        const name = obj.fullName.slice(1);
        const methods: Record<string, grpc.MethodDefinition<object, object>> = {};
        for (const m of obj.methodsArray) {
          const req = m.resolvedRequestType!;
          const res = m.resolvedResponseType!;
          methods[m.name] = {
            path: `/${name}/${m.name}`, requestStream: !!m.requestStream, responseStream: !!m.responseStream,
            requestSerialize: serializer(req), requestDeserialize: deserializer(req),
            responseSerialize: serializer(res), responseDeserialize: deserializer(res),
            originalName: m.name[0]!.toLowerCase() + m.name.slice(1),
          };
        }
        def[name] = methods;
      } else if (obj instanceof protobuf.Namespace) visit(obj);
    }
  };
  visit(root);
  return def;
}

/** Loads a proto file's services once, on first use. */
function cachedLoader<T>(file: string): () => T {
  let cached: T | undefined;
  return () => (cached ??= grpc.loadPackageDefinition(packageDefinition(protoRoot(file))) as unknown as T);
}

export const loadCri = cachedLoader<ProtoGrpcType>(PROTO_PATH);
export const loadBerth = cachedLoader<BerthProtoGrpcType>(BERTH_PROTO_PATH);
