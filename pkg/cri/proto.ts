import { readFileSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { PROJECT_ROOT } from '../version/version.js';
import type { MethodDef } from '../grpc/server.js';
import type { ConfigDefinition } from './gen/berth/v1/Config.js';
import type { ImagesDefinition } from './gen/berth/v1/Images.js';
import type { ImageServiceDefinition } from './gen/runtime/v1/ImageService.js';
import type { RuntimeServiceDefinition } from './gen/runtime/v1/RuntimeService.js';

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

/** The editions features the build found shared by every namespace, and by everything else (scripts/gen-types.mjs). */
interface SharedFeatures { namespace: object; member: object }

/** protobufjs's per-object editions state (private to it; the build checked what it resolves to). */
type Featured = protobuf.ReflectionObject & { _features?: object; _featuresResolved?: boolean };

/**
 * Gives every object in `root` the features protobufjs would resolve for it, so that resolveAll
 * skips resolving them (two merges per object; V8 optimised the merge during start-up).
 */
function setFeatures(root: protobuf.Root, features: SharedFeatures): void {
  const set = (obj: Featured, f: object) => {
    obj._features = f;
    obj._featuresResolved = true;
  };
  const visit = (obj: protobuf.ReflectionObject): void => {
    set(obj, obj instanceof protobuf.Root || obj.constructor === protobuf.Namespace ? features.namespace : features.member);
    if (obj instanceof protobuf.Type) for (const o of [...obj.fieldsArray, ...obj.oneofsArray]) set(o, features.member);
    if (obj instanceof protobuf.Service) for (const m of obj.methodsArray) set(m, features.member);
    if (obj instanceof protobuf.Namespace) for (const o of obj.nestedArray) visit(o);
  };
  visit(root);
}

/** The root in `descriptor` when it was made from this version of `file` (unresolved). */
function fromDescriptor(file: string, descriptor: string): protobuf.Root | undefined {
  let d: { proto: string; root: protobuf.INamespace; features?: SharedFeatures };
  try {
    d = JSON.parse(readFileSync(descriptor, 'utf8')) as typeof d;
  } catch {
    return undefined;
  }
  // Only the proto file's own text is compared: berth's protos import none.
  if (d.proto !== readFileSync(file, 'utf8')) return undefined;
  const root = new protobuf.Root();
  if (d.root.options) root.setOptions(d.root.options);
  root.addJSON(d.root.nested ?? {});
  if (d.features) setFeatures(root, d.features);
  return root;
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

/** Each service's methods by name; services by full name (`runtime.v1.RuntimeService`). */
export type PackageDefinition = Record<string, Record<string, MethodDef & { requestSerialize(v: object): Buffer; responseDeserialize(b: Buffer): object; originalName: string }>>;

/**
 * Service definitions as @grpc/proto-loader makes them (the same encode and decode), without
 * the descriptors of every message it also builds: those cost a third of the daemon's start-up
 * and memory for the life of the process, and nothing here reads them. The server
 * (pkg/grpc) and grpc-js's client (pkg/client) take the same shape.
 */
function packageDefinition(root: protobuf.Root): PackageDefinition {
  const def: PackageDefinition = {};
  const serializer = (t: protobuf.Type) => (arg: object) => {
    if (Array.isArray(arg)) throw new Error(`Failed to serialize message: expected object with ${t.name} structure, got array instead`);
    return t.encode(t.fromObject(arg)).finish() as Buffer;
  };
  const deserializer = (t: protobuf.Type) => (buf: Buffer) => t.toObject(t.decode(buf), LOADER_OPTIONS);
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Service) {
        const name = obj.fullName.slice(1);
        const methods: PackageDefinition[string] = {};
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

const definitions = new Map<string, PackageDefinition>();

/** A proto file's service definitions, made once. */
export function serviceDefinitions(file: string): PackageDefinition {
  let def = definitions.get(file);
  if (!def) {
    def = packageDefinition(protoRoot(file));
    definitions.set(file, def);
  }
  return def;
}

/** The CRI services' method definitions (what the server serves and the list streams encode with). */
export function criServices(): { RuntimeService: RuntimeServiceDefinition; ImageService: ImageServiceDefinition } {
  const d = serviceDefinitions(PROTO_PATH);
  return { RuntimeService: d['runtime.v1.RuntimeService'] as unknown as RuntimeServiceDefinition, ImageService: d['runtime.v1.ImageService'] as unknown as ImageServiceDefinition };
}

/** berth's own services' method definitions (proto/berth/v1). */
export function berthServices(): { Images: ImagesDefinition; Config: ConfigDefinition } {
  const d = serviceDefinitions(BERTH_PROTO_PATH);
  return { Images: d['berth.v1.Images'] as unknown as ImagesDefinition, Config: d['berth.v1.Config'] as unknown as ConfigDefinition };
}
