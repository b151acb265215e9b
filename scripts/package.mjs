#!/usr/bin/env node
// Builds the self-contained berth package that `berth agent` installs on a node (and that the
// agent image carries): the compiled code, production node_modules, native helpers, protos,
// deploy files, node-prep.sh and the node binary itself, plus berth-package.json listing every
// file with its sha256. This script is the one place that knows the package's layout.
//
//   node scripts/package.mjs [--out DIR] [--tar FILE.tar.gz]     (after npm run build)
//
// Layout of DIR:
//   bin/berth                 sh wrapper: runs bin/berth.cjs with node/bin/node and the repository bin/berth's node flags
//   bin/berth.cjs             the repository's bin/berth: picks the bundle (dist/bundle) for the command
//   node/bin/node             the node binary that built the package (same glibc needs as it)
//   dist/bundle               the bundle bin/berth runs (scripts/bundle.mjs)
//   dist/proto                the protos as JSON descriptors (scripts/gen-types.mjs), which the daemon loads
//   dist/cmd, dist/pkg        compiled code, without tests and source maps (the agent's entry, child scripts)
//   pkg/**                    non-code assets the code reads (seccomp profile)
//   node_modules/             production dependencies only (`npm ls --omit=dev`)
//   native/build/             pinns, pause
//   proto/, deploy/, scripts/node-prep.sh, package.json
//   berth-package.json        { name, version, node, files: { path: sha256 }, treeHash }
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseLauncher } from './launcher.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const { values } = parseArgs({ options: { out: { type: 'string' }, tar: { type: 'string' } } });
const out = path.resolve(values.out ?? path.join(root, 'build', `berth-${pkg.version}`));

if (!existsSync(path.join(root, 'dist/cmd/berth/main.js')) || !existsSync(path.join(root, 'dist/bundle/main.js')) || !existsSync(path.join(root, 'dist/bundle/daemon.cjs'))) throw new Error('dist/ is missing: run npm run build first');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const skipCode = (src) => /\.test\.js$|\.js\.map$|\/testdata(\/|$)/.test(src);
const copy = (rel, filter = () => true) => cpSync(path.join(root, rel), path.join(out, rel), { recursive: true, filter: (src) => filter(src) });

copy('package.json');
copy('dist/bundle');
copy('dist/proto');
copy('dist/cmd', (s) => !skipCode(s));
copy('dist/pkg', (s) => !skipCode(s) && !/\/dist\/pkg\/agent\/testing(\/|$)/.test(s));
copy('pkg', (s) => statSync(s).isDirectory() ? !/\/testdata$/.test(s) : !s.endsWith('.ts'));
copy('proto');
copy('deploy');
copy('native/build');
mkdirSync(path.join(out, 'scripts'));
copy('scripts/node-prep.sh');

// Production dependencies: the top-level node_modules entries npm lists without dev ones
// (their own nested node_modules come along).
// npm ls exits non-zero for problems elsewhere in the tree (an extraneous package): its list still stands.
const ls = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
if (!ls.stdout) throw new Error(`npm ls failed: ${ls.stderr}`);
const listed = ls.stdout
  .split('\n').filter(Boolean).map((p) => path.relative(root, p)).filter((p) => p.startsWith('node_modules/'));
const topLevel = new Set(listed.map((p) => p.split('/').slice(0, p.split('/')[1].startsWith('@') ? 3 : 2).join('/')));
for (const dir of topLevel) copy(dir);

mkdirSync(path.join(out, 'node/bin'), { recursive: true });
copyFileSync(process.execPath, path.join(out, 'node/bin/node'));
chmodSync(path.join(out, 'node/bin/node'), 0o755);
mkdirSync(path.join(out, 'bin'));
// The repository's bin/berth, run with its node flags and environment (a small young generation and
// two malloc arenas for the long-lived daemon).
const launcher = readFileSync(path.join(root, 'bin/berth'), 'utf8');
// Its first line: `#!/usr/bin/env -S [NAME=VALUE…] node FLAGS`; env(1) sets the variables here too.
const { env: envVars, flags: nodeFlags } = parseLauncher(launcher);
const envPrefix = envVars.length ? `env ${envVars.join(' ')} ` : '';
writeFileSync(path.join(out, 'bin/berth.cjs'), launcher);
writeFileSync(path.join(out, 'bin/berth'), `#!/bin/sh\n# berth, run by the node binary shipped beside it.\nhere=$(dirname "$(readlink -f "$0")")\nexec ${envPrefix}"$here/../node/bin/node" ${nodeFlags.join(' ')} "$here/berth.cjs" "$@"\n`, { mode: 0o755 });

// Every file with its hash: the agent compares these to know whether a node needs an upgrade.
const files = {};
const walk = (dir) => {
  for (const name of readdirSync(path.join(out, dir)).sort()) {
    const rel = dir ? `${dir}/${name}` : name;
    const st = lstatSync(path.join(out, rel));
    if (st.isDirectory()) walk(rel);
    else if (st.isFile()) files[rel] = createHash('sha256').update(readFileSync(path.join(out, rel))).digest('hex');
  }
};
walk('');
const treeHash = createHash('sha256').update(Object.entries(files).map(([p, h]) => `${p} ${h}\n`).join('')).digest('hex');
writeFileSync(path.join(out, 'berth-package.json'), JSON.stringify({ name: 'berth', version: pkg.version, node: process.version, treeHash, files }, null, 1));

if (values.tar) execFileSync('tar', ['-C', out, '-czf', path.resolve(values.tar), '.']);
process.stdout.write(`${out}\n`);
