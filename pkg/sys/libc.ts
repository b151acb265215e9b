// libc functions through koffi, bound on their first call. Loading koffi and dlopen()ing libc
// cost some 20 ms of the daemon's start-up, and most starts call none of these functions before
// the first pod: mount and mknod come with sandboxes and image layers, sd_notify after ready.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { IKoffiLib } from 'koffi';

type Koffi = typeof import('koffi');

// Required at run time from node_modules (an addon finds its .node file from its own package).
const requireFromHere = createRequire(import.meta.url);
let koffi: Koffi | undefined;
let libc: IKoffiLib | undefined;

/**
 * koffi's native addon for this platform, required by its path as koffi's index.js would find it:
 * the index.js also loads koffi's build tools, and with them node:crypto, https and zlib, which
 * the daemon then kept for nothing.
 */
export function koffiAddonPaths(dir = path.dirname(requireFromHere.resolve('koffi'))): string[] {
  const triplets = [`${process.platform}_${process.arch}`, ...(process.platform === 'linux' ? [`musl_${process.arch}`] : [])];
  return triplets.map((t) => path.join(dir, 'build/koffi', t, 'koffi.node'));
}

function loadKoffi(): Koffi {
  if (koffi) return koffi;
  const candidates = koffiAddonPaths();
  let firstErr: unknown;
  for (const file of candidates.filter((f) => existsSync(f))) {
    try {
      return (koffi = requireFromHere(file) as Koffi);
    } catch (err) {
      firstErr ??= err;
    }
  }
  throw new Error(`koffi's native module could not be loaded (looked for ${candidates.join(', ')}): ${firstErr ? (firstErr as Error).message : 'none there'}`);
}

/** The C function `prototype` (koffi's syntax, e.g. 'int umount2(const char *target, int flags)'), bound on the first call. */
export function libcFunc<F extends (...args: any[]) => any>(prototype: string): F {
  let fn: F | undefined;
  return ((...args: Parameters<F>) => (fn ??= libcBind<F>(prototype))(...args)) as F;
}

/**
 * The C function `prototype` run on a worker thread (koffi's async call), bound on the first
 * call; resolves with its return value. errno is the worker's, not readable here.
 */
export function libcAsyncFunc<F extends (...args: any[]) => any>(prototype: string): (...args: Parameters<F>) => Promise<ReturnType<F>> {
  let fn: { async: (...args: unknown[]) => void } | undefined;
  return (...args) => new Promise((resolve, reject) => {
    fn ??= libcBind<F>(prototype) as unknown as { async: (...args: unknown[]) => void };
    fn.async(...args, (err: unknown, res: ReturnType<F>) => (err ? reject(err as Error) : resolve(res)));
  });
}

/** The C function `prototype` bound now: throws when koffi cannot load or libc lacks the symbol. */
export function libcBind<F extends (...args: any[]) => any>(prototype: string): F {
  return (libc ??= loadKoffi().load('libc.so.6')).func(prototype) as unknown as F;
}

/** errno as the last libc call through koffi left it. */
export function errno(): number {
  return loadKoffi().errno();
}
