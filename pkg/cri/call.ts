// What the server decides about one call before and after its handler runs: its request id, the
// fields its log lines carry, how long berth gives it, and how much of an error goes back.
import { MAX_TIMER_MS, clampTimeoutSeconds } from '../container/timeouts.js';
import { ResourceExhaustedError } from '../errors/errors.js';

/** Metadata key a client may set to choose the request id (else berth makes one). */
export const REQUEST_ID_KEY = 'x-request-id';

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

// Fresh ids: a random prefix per process and a counter (random bytes per call cost more than the
// call's own work on a status call). The prefix tells daemons apart in logs, no secret: not
// node:crypto, whose modules would load at start for it alone.
const ID_PREFIX = Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, '0');
let idSeq = 0;

/** The client's request id when it is a sane token, else a fresh one. */
export function requestId(given: unknown): string {
  if (typeof given === 'string' && REQUEST_ID_RE.test(given)) return given;
  idSeq = (idSeq + 1) >>> 0;
  return ID_PREFIX + idSeq.toString(16).padStart(8, '0');
}

/** Log fields of a call: id, method and the pod/container the request names. */
export function callLogFields(id: string, method: string, req: unknown): Record<string, string> {
  const fields: Record<string, string> = { req: id, method };
  const r = (req ?? {}) as Record<string, unknown>;
  if (typeof r.pod_sandbox_id === 'string' && r.pod_sandbox_id) fields.sandbox = r.pod_sandbox_id;
  if (typeof r.container_id === 'string' && r.container_id) fields.container = r.container_id;
  return fields;
}

/** What berth gives any call that states no longer bound of its own (kubelet's own timeout is 2 min). */
export const DEFAULT_BUDGET_MS = 4 * 60_000;

/**
 * How long berth works on a call before it answers DEADLINE_EXCEEDED itself (undefined: only the
 * client's deadline). Pulls are bounded by their progress timeout; ExecSync and StopContainer by
 * the timeout they carry, plus the default for the work around it; never past what a timer holds.
 */
export function callBudgetMs(method: string, req: unknown): number | undefined {
  const r = (req ?? {}) as { timeout?: string | number };
  switch (method) {
    case 'PullImage':
      return undefined;
    case 'ExecSync': {
      const s = clampTimeoutSeconds(r.timeout);
      return s > 0 ? Math.min(s * 1000 + DEFAULT_BUDGET_MS, MAX_TIMER_MS) : undefined;
    }
    case 'StopContainer':
      return Math.min(clampTimeoutSeconds(r.timeout) * 1000 + DEFAULT_BUDGET_MS, MAX_TIMER_MS);
    default:
      return DEFAULT_BUDGET_MS;
  }
}

/** Largest error message sent back: well under any client's header-list limit (Node's is 64 KiB). */
export const MAX_DETAILS = 1024;

/** An error message cut to MAX_DETAILS characters, saying how much was cut. */
export function boundDetails(details: string): string {
  if (details.length <= MAX_DETAILS) return details;
  const kept = MAX_DETAILS - 48; // room for the note
  return `${details.slice(0, kept)} … (${details.length - kept} more characters cut)`;
}

/** Largest message berth sends or takes (kubelet's client takes 16 MiB too). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** The streaming rpc that gives what a List rpc does, item by item, whatever the total size. */
const STREAM_OF: Record<string, string> = {
  ListPodSandbox: 'StreamPodSandboxes',
  ListContainers: 'StreamContainers',
  ListContainerStats: 'StreamContainerStats',
  ListPodSandboxStats: 'StreamPodSandboxStats',
  ListPodSandboxMetrics: 'StreamPodSandboxMetrics',
  ListImages: 'StreamImages',
};

/**
 * An encoded unary answer, or the error that replaces it when it is over the message limit: a
 * RESOURCE_EXHAUSTED that says how big it was and, for a List, which Stream rpc to use (rather
 * than the transport's own error, which names no way out).
 */
export function boundAnswer(method: string, encoded: Buffer, limit = MAX_MESSAGE_BYTES): Buffer {
  if (encoded.length <= limit) return encoded;
  const stream = STREAM_OF[method];
  const way = stream ? `: use ${stream}, which sends it item by item, or a narrower filter` : '';
  throw new ResourceExhaustedError(`${method}: the answer is ${encoded.length} bytes, over the ${limit}-byte message limit${way}`);
}

/**
 * The abort signal of one call, made when its handler first reads it: most handlers never do,
 * and an AbortController per call cost as much as a status call's own work.
 */
export class CallAbort {
  private controller: AbortController | undefined;
  private reason: Error | undefined;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reason) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: Error): void {
    if (this.reason) return;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
