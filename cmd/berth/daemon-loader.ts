// Entry of dist/bundle/daemon-loader.cjs (scripts/bundle.mjs), what `bin/berth daemon` requires:
// runs the daemon's bundle beside it through the V8 code cache (code-cache.ts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { loadBundle, offerCodeCache } from './code-cache.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// No TurboFan until the daemon is ready and has written its code cache (startupDone): start-up
// runs code once, and the few functions it made hot (esbuild's module interop, protobufjs's root
// getter) made TurboFan's own code, some 4 MiB of node's binary, resident in an idle daemon.
// The flags are the same when the cache is written as when it is read. A node flag that already
// says how to compile is left alone.
const holdOptimizer = !process.execArgv.some((a) => /^--(no-)?(turbofan|opt|jitless|lite-mode)$/.test(a));
if (holdOptimizer) setFlagsFromString('--no-turbofan');
// The handle goes out before the bundle runs: its top level starts the daemon.
let loaded: ReturnType<typeof loadBundle> | undefined;
offerCodeCache({
  get cache() {
    return loaded?.cache ?? 'miss';
  },
  save: () => loaded?.save(),
  startupDone: holdOptimizer ? () => setFlagsFromString('--turbofan') : undefined,
});
loaded = loadBundle(path.join(here, 'daemon.cjs'));
