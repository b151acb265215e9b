#!/usr/bin/env node
// Runs the compiled tests with node's test runner: unit tests (beside the code, in dist/pkg,
// dist/cmd and dist/bench) first, then the e2e tests (dist/e2e), one file at a time since e2e tests share the
// host's network, cgroups and a local registry. `--unit` runs the unit tests alone; other
// arguments filter test files by substring.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

const find = (dir) => {
  let out = [];
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
};

let files = [...find('dist/pkg'), ...find('dist/cmd'), ...find('dist/bench')];
if (!unitOnly) files = files.concat(find('dist/e2e'));
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (!files.length) {
  console.error('run-tests: no test files found (did the build run?)');
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
process.exit(res.status ?? 1);
