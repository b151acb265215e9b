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
const { default: protobuf } = await import('protobufjs');
for (const file of ['proto/api.proto', 'proto/berth/v1/berth.proto']) {
  const root = new protobuf.Root();
  root.loadSync(file, { keepCase: true });
  const target = path.join('dist', file.replace(/\.proto$/, '.json'));
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, JSON.stringify({ proto: readFileSync(file, 'utf8'), root: root.toJSON() }));
}
