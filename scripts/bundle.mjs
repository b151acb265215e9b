#!/usr/bin/env node
// Bundles the compiled CLI and daemon (dist/cmd/berth/main.js, after tsc) into dist/bundle/ with
// esbuild, the code bin/berth runs. Start-up was mostly module loading: resolving, reading and
// compiling some 400 files of berth and its dependencies cost over a second. One ES module graph
// of a few files loads in a fraction of that. Code that `import()`s lazily (the daemon from the
// CLI, client commands, the agent, parts of the daemon loaded on first use) becomes its own chunk,
// still loaded only when used.
//
//   node scripts/bundle.mjs          (npm run build runs it)
//
// Left out of the bundle and loaded from node_modules as before: native addons (they find their
// .node files relative to their own package) and the agent's Kubernetes client.
// tsc's dist/ stays as it is: tests import it directly, and the agent's entry
// (deploy/daemonset.yaml) and child scripts such as the netns dialer run from it.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const outdir = path.join(root, 'dist/bundle');

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/cmd/berth/main.js'],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'koffi', '@kubernetes/client-node'],
  // pkg/version/version.ts finds the project root from here (two levels up, not three).
  define: { BERTH_BUNDLE: 'true' },
  // CommonJS dependencies call require() (node builtins, optional packages such as bufferutil,
  // protobufjs's inquire of "long"): give each ES module chunk one, resolving from node_modules.
  banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
