#!/usr/bin/env node
// Generates TypeScript types for the CRI messages from proto/api.proto, and for berth's own
// services from proto/berth/v1, into pkg/cri/gen (not committed), then adds the `.js`
// extensions that NodeNext module resolution requires.
// It generates into a scratch dir and rewrites only files whose text changed, so builds that
// run at the same time in one tree never see the types missing.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dest = 'pkg/cri/gen';
const out = mkdtempSync(path.join(os.tmpdir(), 'berth-gen-'));
execFileSync(
  process.execPath,
  [
    'node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js',
    '--keepCase', '--longs=String', '--enums=String', '--defaults', '--oneofs',
    '--grpcLib=@grpc/grpc-js', `--outDir=${out}`, '--inputTemplate=%s', '--outputTemplate=%s__Output',
    'proto/api.proto', 'proto/berth/v1/berth.proto',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) {
      const text = readFileSync(p, 'utf8').replace(/from '(\.{1,2}\/[^']+)'/g, "from '$1.js'");
      const target = path.join(dest, path.relative(out, p));
      let old;
      try {
        old = readFileSync(target, 'utf8');
      } catch {}
      if (old !== text) {
        mkdirSync(path.dirname(target), { recursive: true });
        writeFileSync(target, text);
      }
    }
  }
};
walk(out);
rmSync(out, { recursive: true, force: true });

// The same protos as JSON descriptors, dist/proto/<path under proto/>.json: the daemon loads these
// instead of parsing the .proto text at start-up (pkg/cri/proto.ts). Each holds the text it was
// made from, so a descriptor older than its .proto is never used (a string compare: a hash would
// load node:crypto's modules at the daemon's start, before any call needs them).
// Resolved here so that start-up does less of it: every type reference is fully qualified (a
// lookup by full name instead of a search up the scopes), and the editions features protobufjs
// resolves for each object are written once (`features`): the runtime sets them instead of
// merging them ~2,400 times, which had V8 optimise protobufjs's util.merge during start-up and
// made TurboFan's code pages resident. `features` is left out when the objects do not share one
// set per kind (a proto that sets features or options), and the runtime then resolves them itself.
const { default: protobuf } = await import('protobufjs');

/** The JSON object of the reflection object named `fullName` within the root's JSON. */
const jsonAt = (json, fullName) => fullName.slice(1).split('.').reduce((o, name) => o.nested[name], json);

/** Every type reference in `json` by full name, as `resolved` (the same proto, resolved) resolved it. */
function qualify(json, resolved) {
  const visit = (ns) => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) {
        for (const f of obj.fieldsArray) if (f.resolvedType) jsonAt(json, obj.fullName).fields[f.name].type = f.resolvedType.fullName;
      } else if (obj instanceof protobuf.Service) {
        for (const m of obj.methodsArray) Object.assign(jsonAt(json, obj.fullName).methods[m.name], { requestType: m.resolvedRequestType.fullName, responseType: m.resolvedResponseType.fullName });
      }
      if (obj instanceof protobuf.Namespace) visit(obj);
    }
  };
  visit(resolved);
}

/** The features of namespaces (and the root) and of everything else, when each kind shares one set. */
function sharedFeatures(resolved) {
  const sets = { namespace: new Set(), member: new Set() };
  const add = (obj) => sets[obj instanceof protobuf.Root || obj.constructor === protobuf.Namespace ? 'namespace' : 'member'].add(JSON.stringify(obj._features));
  const visit = (obj) => {
    add(obj);
    for (const o of [...(obj.nestedArray ?? []), ...(obj.fieldsArray ?? []), ...(obj.oneofsArray ?? []), ...(obj.methodsArray ?? [])]) visit(o);
  };
  visit(resolved);
  if (sets.namespace.size !== 1 || sets.member.size !== 1) return undefined;
  return { namespace: JSON.parse([...sets.namespace][0]), member: JSON.parse([...sets.member][0]) };
}

for (const file of ['proto/api.proto', 'proto/berth/v1/berth.proto']) {
  const load = () => {
    const root = new protobuf.Root();
    root.loadSync(file, { keepCase: true });
    return root;
  };
  const json = load().toJSON();
  const resolved = load().resolveAll();
  qualify(json, resolved);
  const target = path.join('dist', file.replace(/\.proto$/, '.json'));
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, JSON.stringify({ proto: readFileSync(file, 'utf8'), root: json, features: sharedFeatures(resolved) }));
}
