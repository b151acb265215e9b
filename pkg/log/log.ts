import { pino, destination, stdTimeFunctions, type Logger } from 'pino';
import { callFields } from './context.js';

export type { Logger } from 'pino';

/** Each root logger's children, so a new level (config reload) reaches loggers made before it. */
const families = new WeakMap<Logger, Set<WeakRef<Logger>>>();

/** JSON lines to stderr, so stdout stays free for CLI output; lines written during a CRI call carry its context. */
export function createLogger(level: string): Logger {
  const children = new Set<WeakRef<Logger>>();
  const onChild = (child: Logger) => {
    children.add(new WeakRef(child));
    // Per-pod children come and go: drop the collected ones now and then.
    if (children.size % 512 === 0) for (const r of children) if (!r.deref()) children.delete(r);
  };
  const root = pino({ level, base: { pid: process.pid }, timestamp: stdTimeFunctions.isoTime, mixin: callFields, onChild }, destination(2));
  families.set(root, children);
  return root;
}

/** Sets the level of a logger made by createLogger and of every child it has. */
export function setLogLevel(root: Logger, level: string): void {
  root.level = level;
  for (const r of families.get(root) ?? []) {
    const child = r.deref();
    if (child) child.level = level;
    else families.get(root)!.delete(r);
  }
}

/** A logger that drops everything; for unit tests and library callers. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
