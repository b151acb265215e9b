// Loads the daemon's one-file bundle with a V8 code cache (bin/berth daemon, through
// dist/bundle/daemon-loader.cjs). Compiling the 2 MB bundle, then the functions start-up runs
// for the first time, was some 50 ms of each start; V8 deserializes the same code from a cache
// in well under half that. The cache is written by the daemon itself once it is ready (it then
// holds the functions start-up compiled too), beside the bundle, and used only when it was made
// from this very bundle file by this node: anything else is a miss, the bundle compiles as
// before, and the next ready daemon writes a fresh cache. Never an error for the daemon: a cache
// that cannot be read, written or that V8 refuses only costs the compile.
import { isAscii } from 'node:buffer';
import { readFileSync, renameSync, statSync, writeFileSync, type Stats } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { Script } from 'node:vm';

/** What became of the cache at load: used, none for this bundle, or refused by V8 (another V8 or flags). */
export type CacheUse = 'hit' | 'miss' | 'rejected';

export interface LoadedBundle {
  exports: unknown;
  cache: CacheUse;
  /** Writes the cache after a miss (a no-op after a hit); returns the error instead of throwing. */
  save(): Error | undefined;
}

/**
 * The bundle file as it is now (size, modification time, inode) and the node that runs it. V8's
 * own check compares only the source's length, its version and its flags, so a rebuilt bundle
 * of the same length would pass it: the key catches that.
 */
export function cacheKey(st: Pick<Stats, 'size' | 'mtimeMs' | 'ino'>, node = process.version, arch = process.arch): string {
  return `berth-code-cache 1 ${node} ${arch} ${st.size} ${st.mtimeMs} ${st.ino}`;
}

/** The cache file: the key, a newline, V8's data. */
export function encodeCache(key: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${key}\n`, 'latin1'), data]);
}

/** V8's data from a cache file, when the file was written for `key`. */
export function decodeCache(file: Buffer, key: string): Buffer | undefined {
  const nl = file.indexOf(10);
  if (nl < 0 || file.toString('latin1', 0, nl) !== key) return undefined;
  return file.subarray(nl + 1);
}

function readCache(cacheFile: string, key: string): Buffer | undefined {
  try {
    return decodeCache(readFileSync(cacheFile), key);
  } catch {
    return undefined;
  }
}

/** Writes next to the target and renames, so daemons starting together never read half a cache. */
function writeAtomic(file: string, data: Buffer): Error | undefined {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

/** Runs the CommonJS file `file` as require() would, compiled with the cache `cacheFile` when it fits. */
export function loadBundle(file: string, cacheFile = `${file}.cache`): LoadedBundle {
  const st = statSync(file);
  const key = cacheKey(st);
  const buf = readFileSync(file);
  // scripts/bundle.mjs writes ASCII only: a one-byte string without a UTF-8 decode of 2 MB.
  const source = isAscii(buf) ? buf.toString('latin1') : buf.toString('utf8');
  const cachedData = readCache(cacheFile, key);
  const script = new Script(Module.wrap(source), { filename: file, cachedData });
  const cache: CacheUse = !cachedData ? 'miss' : script.cachedDataRejected ? 'rejected' : 'hit';
  const module = { exports: {} as unknown, filename: file, id: file };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  let saved = cache === 'hit';
  return {
    exports: module.exports,
    cache,
    save() {
      if (saved) return undefined;
      saved = true;
      return writeAtomic(cacheFile, encodeCache(key, script.createCachedData()));
    },
  };
}

// The loader hands the daemon what it did with the cache through this global: the bundle and
// the loader are separate files, and the bundle also runs without the loader (`node daemon.cjs`).
const LOADED = Symbol.for('berth.daemon.codeCache');

/**
 * What the daemon learns from its loader: the cache's use at load, how to write it, and (when the
 * loader held V8's optimising compiler off for start-up) how to let it run.
 */
export type CodeCacheHandle = Pick<LoadedBundle, 'cache' | 'save'> & { startupDone?(): void };

/** The loader's side: leaves the handle for the daemon. */
export function offerCodeCache(handle: CodeCacheHandle): void {
  (globalThis as Record<symbol, unknown>)[LOADED] = handle;
}

/** The daemon's side: the loader's handle, once; undefined when the bundle ran without the loader. */
export function takeCodeCache(): CodeCacheHandle | undefined {
  const g = globalThis as Record<symbol, unknown>;
  const handle = g[LOADED] as CodeCacheHandle | undefined;
  delete g[LOADED];
  return handle;
}
