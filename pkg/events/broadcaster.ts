// A fan-out of events to any number of subscribers. Publishing only appends to each
// subscriber's bounded queue and never waits: delivery runs later, per subscriber, at that
// subscriber's pace. A subscriber whose queue overflows, or whose sink has not accepted an
// event for `stallMs`, is dropped with a warning, so one stalled reader never slows the runtime
// or the other readers.
import { Counter, Gauge, type Registry } from '../metrics/metrics.js';
import type { Logger } from 'pino';

/** Where a subscriber's events go. A returned promise is backpressure: no next write until it settles. */
export interface EventSink<T> {
  write(event: T): void | Promise<void>;
}

export interface SubscribeOptions {
  /** For logs: who is reading (a peer address, "kubelet", …). */
  name: string;
  /** Called once when the broadcaster drops this subscriber, with the reason. */
  onDrop?(reason: string): void;
}

export interface Subscription {
  readonly id: number;
  /** Events accepted but not yet written. */
  readonly queued: number;
  /** Stops delivery; pending events are discarded (not counted as dropped). */
  close(): void;
}

export interface BroadcasterOptions {
  /** The stream's name in logs and metric labels ("container"). */
  name: string;
  log: Logger;
  registry?: Registry;
  /** Events a subscriber may have waiting before it is dropped. */
  queueSize?: number;
  /** A sink that has not taken an event for this long, with more waiting, is dropped. */
  stallMs?: number;
}

interface Sub<T> {
  id: number;
  name: string;
  sink: EventSink<T>;
  queue: T[];
  pumping: boolean;
  closed: boolean;
  /** When the write in progress started (0: none). */
  writingSince: number;
  onDrop?: (reason: string) => void;
}

interface EventMetrics {
  delivered: Counter<'stream'>;
  dropped: Counter<'stream'>;
  droppedSubscribers: Counter<'stream'>;
  subscribers: Gauge<'stream'>;
}

/** The event metrics of a registry, created once per registry (several streams share them by label). */
function metricsOf(registry: Registry): EventMetrics {
  const get = <M>(name: string, make: () => M): M => (registry.getSingleMetric(name) as M | undefined) ?? make();
  const registers = [registry];
  return {
    delivered: get('berth_events_delivered_total', () => new Counter({
      name: 'berth_events_delivered_total', help: 'Events written to event stream subscribers.', labelNames: ['stream'], registers,
    })),
    dropped: get('berth_events_dropped_total', () => new Counter({
      name: 'berth_events_dropped_total', help: 'Events never delivered because their subscriber was too slow and was dropped.', labelNames: ['stream'], registers,
    })),
    droppedSubscribers: get('berth_event_subscribers_dropped_total', () => new Counter({
      name: 'berth_event_subscribers_dropped_total', help: 'Event stream subscribers dropped for being too slow.', labelNames: ['stream'], registers,
    })),
    subscribers: get('berth_event_subscribers', () => new Gauge({
      name: 'berth_event_subscribers', help: 'Event stream subscribers connected now.', labelNames: ['stream'], registers,
    })),
  };
}

export class Broadcaster<T> {
  private readonly subs = new Map<number, Sub<T>>();
  private nextId = 1;
  private readonly queueSize: number;
  private readonly stallMs: number;
  private readonly metrics?: EventMetrics;
  /** Totals since start, for tests and status. */
  delivered = 0;
  dropped = 0;

  constructor(private readonly opts: BroadcasterOptions) {
    this.queueSize = opts.queueSize ?? 1024;
    this.stallMs = opts.stallMs ?? 30_000;
    if (opts.registry) this.metrics = metricsOf(opts.registry);
  }

  get subscriberCount(): number {
    return this.subs.size;
  }

  subscribe(sink: EventSink<T>, opts: SubscribeOptions): Subscription {
    const sub: Sub<T> = {
      id: this.nextId++, name: opts.name, sink, queue: [], pumping: false, closed: false, writingSince: 0, onDrop: opts.onDrop,
    };
    this.subs.set(sub.id, sub);
    this.metrics?.subscribers.inc({ stream: this.opts.name });
    this.opts.log.debug({ stream: this.opts.name, subscriber: sub.name, id: sub.id }, 'event subscriber added');
    return {
      id: sub.id,
      get queued() {
        return sub.queue.length;
      },
      close: () => this.remove(sub),
    };
  }

  /** Queues `event` for every subscriber and returns at once. */
  publish(event: T): void {
    const now = Date.now();
    for (const sub of this.subs.values()) {
      if (sub.queue.length >= this.queueSize) {
        this.drop(sub, `its queue of ${this.queueSize} events is full`, 1);
        continue;
      }
      if (sub.writingSince && now - sub.writingSince > this.stallMs && sub.queue.length > 0) {
        this.drop(sub, `it has not taken an event for ${now - sub.writingSince} ms`, 1);
        continue;
      }
      sub.queue.push(event);
      if (!sub.pumping) {
        sub.pumping = true;
        setImmediate(() => void this.pump(sub));
      }
    }
  }

  private async pump(sub: Sub<T>): Promise<void> {
    try {
      while (!sub.closed && sub.queue.length) {
        const ev = sub.queue.shift()!;
        sub.writingSince = Date.now();
        const r = sub.sink.write(ev);
        if (r) await r;
        sub.writingSince = 0;
        if (sub.closed) break;
        this.delivered++;
        this.metrics?.delivered.inc({ stream: this.opts.name });
      }
    } catch (err) {
      // The event whose write failed is lost too.
      this.drop(sub, `writing to it failed: ${err instanceof Error ? err.message : String(err)}`, 1);
    } finally {
      sub.pumping = false;
    }
  }

  private drop(sub: Sub<T>, reason: string, extra: number): void {
    const lost = sub.queue.length + extra;
    this.remove(sub);
    this.dropped += lost;
    this.metrics?.dropped.inc({ stream: this.opts.name }, lost);
    this.metrics?.droppedSubscribers.inc({ stream: this.opts.name });
    this.opts.log.warn({ stream: this.opts.name, subscriber: sub.name, id: sub.id, lostEvents: lost }, `event subscriber dropped: ${reason}`);
    try {
      sub.onDrop?.(reason);
    } catch {
      // A failing callback must not disturb the publisher.
    }
  }

  private remove(sub: Sub<T>): void {
    if (sub.closed) return;
    sub.closed = true;
    sub.queue.length = 0;
    this.subs.delete(sub.id);
    this.metrics?.subscribers.dec({ stream: this.opts.name });
  }

  /** Drops every subscriber quietly (shutdown). */
  close(): void {
    for (const sub of [...this.subs.values()]) this.remove(sub);
  }
}
