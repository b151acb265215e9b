// Which runtime handler a pod that names none (RuntimeClass handler "") runs under: the
// configured default, or runc when the default's binary is not on this host (a default of crun
// where only runc is installed) or the host refuses it (crun on a hybrid cgroup host with a
// controller left on v2); the daemon logs the fallback and why at start. An operator who wants
// runc regardless sets `runtime.default_handler = "runc"`.
import { isExecutable } from '../sys/executable.js';
import type { BerthConfig } from './schema.js';

/** The handler berth falls back to when the default handler's binary is missing. */
export const FALLBACK_HANDLER = 'runc';

export interface HandlerFallback {
  /** The configured default handler, its binary, and why it does not run here. */
  from: string;
  path: string;
  reason: string;
  to: string;
}

/** Why a runtime binary cannot run containers on this host, if it cannot (Cgroups.runtimeRefusal). */
export type RuntimeRefusal = (runtimePath: string) => string | undefined;

/**
 * The config with the default handler this host can run: the configured one when its binary is
 * executable and the host does not refuse it (or when runc cannot run either, so that Status and
 * the runtime's own error name what is wrong), else runc's.
 */
export interface HandlerHost {
  /** Whether a binary can be run here (default: an executable file). */
  executable?: (file: string) => boolean;
  /** Why the host refuses a runtime (default: it refuses none). */
  refusal?: RuntimeRefusal;
}

export function resolveDefaultHandler(cfg: BerthConfig, host: HandlerHost = {}): { config: BerthConfig; fallback?: HandlerFallback } {
  const { executable = isExecutable, refusal = () => undefined } = host;
  const { default_handler: name, handlers } = cfg.runtime;
  const chosen = handlers[name];
  const fallback = handlers[FALLBACK_HANDLER];
  if (!chosen || name === FALLBACK_HANDLER || !fallback || !executable(fallback.path) || refusal(fallback.path)) return { config: cfg };
  const reason = executable(chosen.path) ? refusal(chosen.path) : `${chosen.path} is not there`;
  if (!reason) return { config: cfg };
  return {
    config: { ...cfg, runtime: { ...cfg.runtime, default_handler: FALLBACK_HANDLER } },
    fallback: { from: name, path: chosen.path, reason, to: FALLBACK_HANDLER },
  };
}
