import http from 'node:http';
import { splitHostPort } from '../config/config.js';
// prom-client's index loads all it has when the daemon starts: the push gateway (with http and
// https), cluster aggregation, summaries and the default process metrics (perf_hooks,
// @opentelemetry/api), some 60 ms of start-up here. berth takes the classes it uses one by one
// and loads the default metrics after start-up (collectDefaults). Every package takes the
// classes from here.
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';
import { DeferredStart } from '../sync/deferred-start.js';

export { Counter, Gauge, Histogram, Registry };

/**
 * How often the event-loop lag histogram samples. prom-client's default (10 ms) wakes an idle
 * daemon 100 times a second: 0.8 % of a core on the test VM, most of berth's idle CPU. A block of
 * the loop still shows at 100 ms, as the lateness of the next sample.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** berth's Prometheus registry; other packages add their metrics to `registry`. */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'service' | 'method' | 'code'>;
  readonly duration: Histogram<'service' | 'method'>;
  /** prom-client's default metrics: loaded at the first scrape or a moment after berth serves. */
  private readonly defaults = new DeferredStart(() =>
    import('prom-client/lib/defaultMetrics.js').then((m) => m.default({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })));

  constructor() {
    this.requests = new Counter({
      name: 'berth_cri_requests_total',
      help: 'CRI calls served, by service, method and gRPC status code.',
      labelNames: ['service', 'method', 'code'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'berth_cri_request_duration_seconds',
      help: 'Time to answer a CRI call, by service and method.',
      labelNames: ['service', 'method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
  }

  /**
   * Adds prom-client's default process and Node.js metrics (CPU, memory, event loop lag, GC)
   * to the registry, loading their code on the first call.
   */
  collectDefaults(): Promise<void> {
    return this.defaults.get();
  }

  /** Loads the default metrics `delayMs` from now (off the first calls' path) unless a scrape did. */
  collectDefaultsAfter(delayMs: number, onError: (err: unknown) => void): void {
    this.defaults.schedule(delayMs, onError);
  }
}

/** Serves `/metrics` on host:port; resolves with the bound address once listening. */
export async function serveMetrics(metrics: Metrics, listen: string): Promise<{ server: http.Server; address: string }> {
  const { host, port } = splitHostPort(listen, 'metrics_listen');
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics' || req.method !== 'GET') {
      res.writeHead(404).end('not found\n');
      return;
    }
    // A scrape right after start-up waits for the default metrics rather than going without them.
    metrics.collectDefaults().then(() => metrics.registry.metrics()).then(
      (body) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(body),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address();
  const address = typeof a === 'object' && a ? `${a.address}:${a.port}` : listen;
  return { server, address };
}
