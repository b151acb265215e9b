// Entry of dist/bundle/daemon-loader.cjs (scripts/bundle.mjs), what `bin/berth daemon` requires:
// runs the daemon's bundle beside it through the V8 code cache (code-cache.ts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBundle, offerCodeCache } from './code-cache.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// The handle goes out before the bundle runs: its top level starts the daemon.
let loaded: ReturnType<typeof loadBundle> | undefined;
offerCodeCache({
  get cache() {
    return loaded?.cache ?? 'miss';
  },
  save: () => loaded?.save(),
});
loaded = loadBundle(path.join(here, 'daemon.cjs'));
