// Which runtime handler a pod that names none (RuntimeClass handler "") runs under: the
// configured default, or runc when the default's binary is not on this host (a default of crun
// where only runc is installed); the daemon logs the fallback at start. An operator who wants
// runc regardless sets `runtime.default_handler = "runc"`.
import { isExecutable } from '../sys/executable.js';
import type { BerthConfig } from './schema.js';

/** The handler berth falls back to when the default handler's binary is missing. */
export const FALLBACK_HANDLER = 'runc';

export interface HandlerFallback {
  /** The configured default handler, and the binary that is not there. */
  from: string;
  path: string;
  to: string;
}

/**
 * The config with the default handler this host can run: the configured one when its binary is
 * executable (or when no fallback is, so that Status names what is missing), else runc's.
 */
export function resolveDefaultHandler(cfg: BerthConfig, executable: (file: string) => boolean = isExecutable): { config: BerthConfig; fallback?: HandlerFallback } {
  const { default_handler: name, handlers } = cfg.runtime;
  const chosen = handlers[name];
  const fallback = handlers[FALLBACK_HANDLER];
  if (!chosen || name === FALLBACK_HANDLER || !fallback || executable(chosen.path) || !executable(fallback.path)) return { config: cfg };
  return {
    config: { ...cfg, runtime: { ...cfg.runtime, default_handler: FALLBACK_HANDLER } },
    fallback: { from: name, path: chosen.path, to: FALLBACK_HANDLER },
  };
}
