// The log context of one CRI call: its request id, method and the pod/container it concerns.
// Kept in AsyncLocalStorage so every log line written while the call runs carries it (the
// logger's mixin reads it), without threading a logger through every domain function.
import { AsyncLocalStorage } from 'node:async_hooks';

export type CallFields = Record<string, string>;

const storage = new AsyncLocalStorage<CallFields>();

/** Runs `fn` with `fields` attached to every log line it (and what it awaits) writes. */
export function withCallFields<T>(fields: CallFields, fn: () => T): T {
  return storage.run({ ...fields }, fn);
}

/** Adds fields to the current call's context (e.g. the id of a sandbox just created); no-op outside a call. */
export function addCallFields(fields: CallFields): void {
  const cur = storage.getStore();
  if (cur) Object.assign(cur, fields);
}

/** The current call's fields ({} outside a call); pino's mixin. */
export function callFields(): CallFields {
  return storage.getStore() ?? {};
}
