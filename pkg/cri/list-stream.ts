// List streaming (KEP-5825: StreamPodSandboxes, StreamContainers, StreamImages and the stats
// streams): the items of a list call sent as a server stream of responses, each a batch of at
// least one item, every item exactly once, then EOF. Items are encoded one at a time as they
// come from the in-memory indexes, so memory stays flat in the number of items; a batch is
// written only once the previous one has left for the transport, so a client that stops reading
// holds at most two batches in the daemon.
import type { ServerWritableCall } from '../grpc/calls.js';
import { criServices } from './proto.js';
import { toStatus } from './status.js';

export interface BatchLimits {
  /** Items per response message. */
  maxItems: number;
  /** Encoded bytes per response message (an item larger than this goes alone). */
  maxBytes: number;
}

export interface BatchWriterOptions extends Partial<BatchLimits> {
  /** Called when a batch is ready but the previous one has not left yet (the client reads slower). */
  onWait?: () => void;
}

/** Well under the 16 MiB message limit, and small enough that the first batch leaves early. */
export const DEFAULT_BATCH: BatchLimits = { maxItems: 256, maxBytes: 1 << 20 };

type AnyCall = ServerWritableCall<unknown, unknown>;

/**
 * An encoder of one item as it sits in a response: the response with that item alone, encoded,
 * is the item's field tag, length and bytes, and a batch is those concatenated (repeated fields
 * concatenate on the wire). Every list stream response has its items in field 1.
 */
export function itemEncoder<T>(service: 'RuntimeService' | 'ImageService', method: string, field: string): (item: T) => Buffer {
  const md = (criServices()[service] as unknown as Record<string, { responseStream: boolean; responseSerialize(v: unknown): Buffer }>)[method];
  if (!md?.responseStream) throw new Error(`list stream: ${service}.${method} is not a server stream`);
  return (item) => md.responseSerialize({ [field]: [item] });
}

/** Collects encoded items into batches and writes them with backpressure. */
export class BatchWriter {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private sending: Promise<void> = Promise.resolve();
  private sent = true;
  private stopped = false;
  /** Response messages written so far. */
  batches = 0;

  private readonly limits: BatchLimits;

  constructor(private readonly call: AnyCall, private readonly opts: BatchWriterOptions = {}) {
    this.limits = { ...DEFAULT_BATCH, ...opts };
    const stop = () => {
      this.stopped = true;
    };
    for (const ev of ['cancelled', 'error', 'close', 'finish']) call.once(ev, stop);
  }

  /** False once the client is gone (cancelled, deadline passed) or the call was ended: stop producing. */
  get open(): boolean {
    return !this.stopped && !this.call.writableEnded;
  }

  /** Adds one encoded item; resolves when the producer may go on. */
  async add(item: Buffer): Promise<boolean> {
    if (this.chunks.length && this.bytes + item.length > this.limits.maxBytes) await this.flush();
    this.chunks.push(item);
    this.bytes += item.length;
    if (this.chunks.length >= this.limits.maxItems || this.bytes >= this.limits.maxBytes) await this.flush();
    return this.open;
  }

  private async flush(): Promise<void> {
    // The previous batch must have left the call's buffer first: that is the backpressure.
    if (!this.sent) this.opts.onWait?.();
    await this.sending;
    const chunks = this.chunks;
    this.chunks = [];
    this.bytes = 0;
    if (!this.open || !chunks.length) return;
    const msg = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    this.batches++;
    this.sent = false;
    this.sending = new Promise<void>((resolve) => {
      // The write callback never comes for a call that was cancelled or failed; their events resolve instead.
      const ends = ['cancelled', 'error', 'close'];
      const done = () => {
        for (const ev of ends) this.call.off(ev, done);
        this.sent = true;
        resolve();
      };
      for (const ev of ends) this.call.once(ev, done);
      // Server streams take pre-encoded responses (CriServer passes Buffers through).
      this.call.write(msg, done);
    });
  }

  /** Sends what is left and ends the stream with OK (no message at all for an empty list). */
  async end(): Promise<void> {
    await this.flush();
    await this.sending;
    if (this.open) this.call.end();
  }
}

/**
 * Runs a list stream: `produce` adds every item to the writer and returns; the stream then ends
 * with OK. A thrown error ends it with the error's status (the client discards the partial list).
 */
export function serveList(call: AnyCall, produce: (w: BatchWriter) => Promise<void>, opts?: BatchWriterOptions): Promise<void> {
  const w = new BatchWriter(call, opts);
  return produce(w).then(
    () => w.end(),
    (err: unknown) => {
      if (!w.open) return;
      const st = toStatus(err);
      call.emit('error', { code: st.code, details: st.details });
    },
  );
}

/** Adds every item, encoded, until the client is gone. */
export async function addAll<T>(w: BatchWriter, items: Iterable<T>, encode: (item: T) => Buffer): Promise<void> {
  for (const it of items) if (!(await w.add(encode(it)))) return;
}

/** Splits an iterable into arrays of `n` (the stats streams read one group in parallel). */
export function* chunked<T>(items: Iterable<T>, n: number): Generator<T[]> {
  let group: T[] = [];
  for (const it of items) {
    group.push(it);
    if (group.length >= n) {
      yield group;
      group = [];
    }
  }
  if (group.length) yield group;
}
