import { pino, destination, stdTimeFunctions, type Logger } from 'pino';
import { callFields } from './context.js';

export type { Logger } from 'pino';

/** JSON lines to stderr, so stdout stays free for CLI output; lines written during a CRI call carry its context. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: stdTimeFunctions.isoTime, mixin: callFields }, destination(2));
}

/** A logger that drops everything; for unit tests and library callers. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
