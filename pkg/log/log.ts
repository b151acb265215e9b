import { pino, destination, stdTimeFunctions, type Logger } from 'pino';

export type { Logger } from 'pino';

/** JSON lines to stderr, so stdout stays free for CLI output. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: stdTimeFunctions.isoTime }, destination(2));
}

/** A logger that drops everything; for unit tests and library callers. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
