#!/usr/bin/env node
// Generates TypeScript types for the CRI messages from proto/api.proto into pkg/cri/gen
// (not committed), then adds the `.js` extensions that NodeNext module resolution requires.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const out = 'pkg/cri/gen';
rmSync(out, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [
    'node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js',
    '--keepCase', '--longs=String', '--enums=String', '--defaults', '--oneofs',
    '--grpcLib=@grpc/grpc-js', `--outDir=${out}`, '--inputTemplate=%s', '--outputTemplate=%s__Output',
    'proto/api.proto',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) {
      const text = readFileSync(p, 'utf8').replace(/from '(\.{1,2}\/[^']+)'/g, "from '$1.js'");
      writeFileSync(p, text);
    }
  }
};
walk(out);
