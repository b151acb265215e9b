#!/usr/bin/env node
// Bundles the compiled CLI and daemon (dist/cmd/berth/main.js, after tsc) into dist/bundle/ with
// esbuild, the code bin/berth runs. Start-up was mostly module loading: resolving, reading and
// compiling some 400 files of berth and its dependencies cost over a second.
//
// Two bundles of the same entry (and daemon-loader.cjs, which runs the first with a code cache):
// - dist/bundle/daemon.cjs, one CommonJS file, for `berth daemon`. Loading it costs some 80 ms of
//   CPU less than the ES module graph: no ES module linking, no cjs-module-lexer pass over the
//   CommonJS addons it requires, no facades of node's builtins. Code it `import()`s lazily is
//   wrapped to run on first use, in the same file.
// - dist/bundle/main.js and its chunks, split ES modules, for every other command: `berth ps`
//   loads the client's chunks only, not the 2 MB the daemon needs.
//
//   node scripts/bundle.mjs          (npm run build runs it)
//
// Left out of the bundle and loaded from node_modules as before: koffi (it finds its .node files
// relative to its own package) and the agent's Kubernetes client. better-sqlite3's JavaScript is
// bundled (its dozen files cost 16-45 ms to load one by one); pkg/store names its addon by path.
// tsc's dist/ stays as it is: tests import it directly, and the agent's entry
// (deploy/daemonset.yaml) and child scripts such as the netns dialer run from it.
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { LAZY_BUILTINS, lazyBuiltinSource } from '../dist/cmd/berth/lazy-builtins.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const outdir = path.join(root, 'dist/bundle');

const common = {
  absWorkingDir: root,
  entryPoints: ['dist/cmd/berth/main.js'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['koffi', '@kubernetes/client-node'],
  legalComments: 'none',
  logLevel: 'warning',
};
// pkg/version/version.ts finds the project root from here (two levels up, not three).
const define = { BERTH_BUNDLE: 'true' };

/**
 * Gives the bundle a stand-in for each of `names` (cmd/berth/lazy-builtins.ts): the builtin loads
 * when the daemon first uses it, not when the bundle starts. The stand-in's own require of the
 * builtin stays a plain require.
 */
function lazyBuiltins(names) {
  const filter = new RegExp(`^(node:)?(${names.join('|')})$`);
  const load = createRequire(import.meta.url);
  return {
    name: 'lazy-builtins',
    setup(b) {
      b.onResolve({ filter }, (args) =>
        args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' },
      );
      b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
        contents: lazyBuiltinSource(args.path, Object.getOwnPropertyNames(load(`node:${args.path}`))),
        loader: 'js',
      }));
    },
  };
}

// cmd/berth/main.js's imports of the commands other than `daemon`, and what main.js uses of each.
// bin/berth runs daemon.cjs for `berth daemon` only, so that bundle leaves them out, and with
// them the client's @grpc/grpc-js: a quarter of the source V8 would otherwise keep resident.
const NOT_DAEMON = { './cli/main.js': ['runCli'], './cli/commands.js': ['isCliCommand'], './cli/config-reload.js': ['reloadConfig'], './agent.js': ['runAgent'] };

/** Replaces the NOT_DAEMON imports of dist/cmd/berth/main.js with functions that throw. */
function daemonOnly() {
  const mainJs = path.join(root, 'dist/cmd/berth/main.js');
  return {
    name: 'daemon-only',
    setup(b) {
      b.onResolve({ filter: /^\.\/(cli\/[a-z-]+|agent)\.js$/ }, (args) =>
        args.importer === mainJs && NOT_DAEMON[args.path] ? { path: args.path, namespace: 'not-daemon' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'not-daemon' }, (args) => ({
        contents: NOT_DAEMON[args.path]
          .map((name) => `export function ${name}() { throw new Error('${name} is not in the daemon bundle: run this command through bin/berth'); }`)
          .join('\n'),
        loader: 'js',
      }));
    },
  };
}

rmSync(outdir, { recursive: true, force: true });
await build({
  ...common,
  outdir,
  splitting: true,
  format: 'esm',
  define,
  // CommonJS dependencies call require() (node builtins, optional packages such as bufferutil,
  // protobufjs's inquire of "long"): give each ES module chunk one, resolving from node_modules.
  banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);" },
});
const cjs = {
  format: 'cjs',
  // CommonJS has no import.meta: berth's own uses (the project root, createRequire) get the file's URL.
  define: { ...define, 'import.meta.url': '__berthFileUrl' },
  banner: { js: "const __berthFileUrl = require('node:url').pathToFileURL(__filename).href;" },
};
// Minified (names kept: logs and errors still name functions and classes): V8 keeps the source of
// a script for the life of the process, and the daemon's is half the size; a source map beside it
// for `node --enable-source-maps`.
await build({
  ...common,
  ...cjs,
  outfile: path.join(outdir, 'daemon.cjs'),
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  plugins: [lazyBuiltins(LAZY_BUILTINS), daemonOnly()],
});
// What bin/berth daemon requires: daemon.cjs run through a V8 code cache (cmd/berth/code-cache.ts).
await build({ ...common, ...cjs, entryPoints: ['dist/cmd/berth/daemon-loader.js'], outfile: path.join(outdir, 'daemon-loader.cjs') });

// V8 keeps a script's source text for the life of the process, in one byte a character only when
// every character fits: one arrow in a comment made the daemon's 2 MB bundle a 4 MB two-byte
// string, resident and slower to scan. esbuild writes code as ASCII (strings and identifiers
// escaped) but copies the comments it keeps as they are; their other characters become escapes.
// Source maps are left alone: they are JSON, where `\u{...}` is an error, and V8 never holds them.
for (const name of readdirSync(outdir)) {
  if (name.endsWith('.map')) continue;
  const file = path.join(outdir, name);
  const text = readFileSync(file, 'utf8');
  if (/[^\x00-\x7f]/.test(text)) writeFileSync(file, text.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`));
}
