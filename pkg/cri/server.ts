import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../log/log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { CallContext, HandlerSet } from './handlers.js';
import { loadCri } from './proto.js';
import { codeName, toStatus } from './status.js';

type AnyUnary = (req: unknown, ctx: CallContext) => Promise<unknown>;
type AnyStream = (call: grpc.ServerWritableStream<unknown, unknown>) => void;

/**
 * The CRI gRPC server: every rpc of RuntimeService and ImageService is registered; those with
 * no handler answer UNIMPLEMENTED naming the method. Each call is logged at debug and counted.
 */
export class CriServer {
  readonly grpc = new grpc.Server({
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc.max_send_message_length': 16 * 1024 * 1024,
  });
  private inFlight = 0;
  private readonly streams = new Set<grpc.ServerWritableStream<unknown, unknown>>();

  constructor(
    private readonly handlers: HandlerSet,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    const cri = loadCri().runtime.v1;
    this.register('RuntimeService', cri.RuntimeService.service);
    this.register('ImageService', cri.ImageService.service);
  }

  private register(service: string, def: grpc.ServiceDefinition): void {
    const impl: grpc.UntypedServiceImplementation = {};
    const table = this.handlers as Record<string, AnyUnary | AnyStream | undefined>;
    for (const [method, md] of Object.entries(def)) {
      const handler = table[method];
      impl[method] = md.responseStream
        ? this.wrapStream(service, method, handler as AnyStream | undefined)
        : this.wrapUnary(service, method, handler as AnyUnary | undefined);
    }
    this.grpc.addService(def, impl);
  }

  private finish(service: string, method: string, start: bigint, code: grpc.status, err?: string): void {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const name = codeName(code);
    this.metrics.requests.inc({ service, method, code: name });
    this.metrics.duration.observe({ service, method }, seconds);
    const fields = { method, code: name, ms: Math.round(seconds * 1e6) / 1e3 };
    if (code === grpc.status.OK || code === grpc.status.NOT_FOUND || code === grpc.status.CANCELLED) this.log.debug(fields, 'cri call');
    else this.log.warn({ ...fields, err }, 'cri call failed');
    this.inFlight--;
  }

  private wrapUnary(service: string, method: string, handler: AnyUnary | undefined): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const start = process.hrtime.bigint();
      this.inFlight++;
      if (!handler) {
        const details = `${service}.${method} is not implemented by berth yet`;
        this.finish(service, method, start, grpc.status.UNIMPLEMENTED, details);
        callback({ code: grpc.status.UNIMPLEMENTED, details });
        return;
      }
      const abort = new AbortController();
      call.once('cancelled', () => abort.abort(new Error(`${method} cancelled by the client`)));
      let res: Promise<unknown>;
      try {
        res = handler(call.request, { method, signal: abort.signal });
      } catch (err) {
        res = Promise.reject(err);
      }
      res.then(
        (value) => {
          this.finish(service, method, start, grpc.status.OK);
          callback(null, value);
        },
        (err: unknown) => {
          const st = toStatus(err);
          this.finish(service, method, start, st.code, st.details);
          callback({ code: st.code, details: st.details });
        },
      );
    };
  }

  private wrapStream(service: string, method: string, handler: AnyStream | undefined): grpc.handleServerStreamingCall<unknown, unknown> {
    return (call) => {
      const start = process.hrtime.bigint();
      this.inFlight++;
      if (!handler) {
        const details = `${service}.${method} is not implemented by berth yet`;
        this.finish(service, method, start, grpc.status.UNIMPLEMENTED, details);
        call.emit('error', { code: grpc.status.UNIMPLEMENTED, details });
        return;
      }
      // A stream is long-lived: count it once opened, but never hold shutdown for it.
      this.finish(service, method, start, grpc.status.OK);
      this.streams.add(call);
      const forget = () => this.streams.delete(call);
      call.once('cancelled', forget);
      call.once('finish', forget);
      try {
        handler(call);
      } catch (err) {
        const st = toStatus(err);
        call.emit('error', { code: st.code, details: st.details });
      }
    };
  }

  async listen(socket: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.grpc.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Stops taking calls and waits up to `graceMs` for those in flight, then cuts the rest off. */
  async shutdown(graceMs: number): Promise<void> {
    // Event streams never end by themselves; close them so they do not hold the shutdown.
    for (const call of this.streams) call.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ inFlight: this.inFlight }, 'shutdown grace expired; cancelling calls still in flight');
        this.grpc.forceShutdown();
        resolve();
      }, graceMs);
      this.grpc.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
