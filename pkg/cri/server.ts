import * as grpc from '@grpc/grpc-js';
import { CancelledError, DeadlineExceededError } from '../errors/errors.js';
import { withCallFields } from '../log/context.js';
import type { Logger } from '../log/log.js';
import type { Metrics } from '../metrics/metrics.js';
import { CallAbort, MAX_MESSAGE_BYTES, REQUEST_ID_KEY, boundAnswer, boundDetails, callBudgetMs, callLogFields, requestId } from './call.js';
import { RequestGuard, tolerantDeserializers } from './guard.js';
import type { CallContext, HandlerSet } from './handlers.js';
import type { ExtraService } from './module.js';
import { loadCri } from './proto.js';
import { codeName, toStatus } from './status.js';

type AnyUnary = (req: unknown, ctx: CallContext) => Promise<unknown>;
type AnyStream = (call: grpc.ServerWritableStream<unknown, unknown>) => void;
type AnyClientStream = (call: grpc.ServerReadableStream<unknown, unknown>, ctx: CallContext) => Promise<unknown>;

/**
 * The CRI gRPC server: every rpc of RuntimeService and ImageService is registered; those with
 * no handler answer UNIMPLEMENTED naming the method. Each request is checked against its schema
 * (guard.ts) before its handler sees it, runs with its request id in every log line, gets at most
 * its budget of time (call.ts), and is answered with an error message of bounded size. Each call
 * is logged at debug and counted. berth's own services (proto/berth/v1) are served beside them.
 */
export class CriServer {
  readonly grpc = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    // channelz (grpc's own debug service, which berth does not serve) costs bookkeeping per call.
    'grpc.enable_channelz': 0,
  });
  private inFlight = 0;
  /** Open server streams, by the method they serve. */
  private readonly streams = new Map<grpc.ServerWritableStream<unknown, unknown>, string>();
  private readonly guard = new RequestGuard();

  constructor(
    private readonly handlers: HandlerSet,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    extraServices: ExtraService[] = [],
  ) {
    const cri = loadCri().runtime.v1;
    this.register('RuntimeService', cri.RuntimeService.service, this.handlers, true);
    this.register('ImageService', cri.ImageService.service, this.handlers, true);
    for (const s of extraServices) this.register(s.name, s.definition, s.handlers, false);
  }

  /**
   * `guarded`: requests are checked against the CRI schema, and one that does not decode is
   * INVALID_ARGUMENT (berth's own services check their own).
   */
  private register(service: string, loaded: grpc.ServiceDefinition, handlers: object, guarded: boolean): void {
    const impl: grpc.UntypedServiceImplementation = {};
    const table = handlers as Record<string, AnyUnary | AnyStream | AnyClientStream | undefined>;
    const def = guarded ? tolerantDeserializers(loaded) : loaded;
    const served: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    for (const [method, md] of Object.entries(def)) {
      // List streams write responses they encoded item by item (list-stream.ts), and unary
      // answers are encoded by wrapUnary (to bound their size): pass those through.
      served[method] = md.requestStream ? md : { ...md, responseSerialize: (v: unknown) => (Buffer.isBuffer(v) ? v : md.responseSerialize(v)) };
      const handler = table[method];
      if (md.requestStream) {
        impl[method] = this.wrapClientStream(service, method, handler as AnyClientStream | undefined);
        continue;
      }
      const reqType = guarded ? this.guard.requestType(`runtime.v1.${service}`, method) : undefined;
      const check = (req: unknown): void => void (reqType && this.guard.check(reqType, req));
      impl[method] = md.responseStream
        ? this.wrapStream(service, method, check, handler as AnyStream | undefined)
        : this.wrapUnary(service, method, check, handler as AnyUnary | undefined, (v) => boundAnswer(method, md.responseSerialize(v)));
    }
    this.grpc.addService(served as grpc.ServiceDefinition, impl);
  }

  /** Runs `fn` in the call's log context: its request id, method and the ids it names. */
  private inCallContext<T>(method: string, call: { metadata: grpc.Metadata; request: unknown }, fn: () => T): T {
    const id = requestId(call.metadata.get(REQUEST_ID_KEY)[0]);
    return withCallFields(callLogFields(id, method, call.request), fn);
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

  private wrapUnary(service: string, method: string, check: (req: unknown) => void, handler: AnyUnary | undefined, encode: (v: unknown) => Buffer): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => this.inCallContext(method, call, () => {
      const start = process.hrtime.bigint();
      this.inFlight++;
      if (!handler) {
        const details = `${service}.${method} is not implemented by berth yet`;
        this.finish(service, method, start, grpc.status.UNIMPLEMENTED, details);
        callback({ code: grpc.status.UNIMPLEMENTED, details });
        return;
      }
      const abort = new CallAbort();
      // grpc-js reports 'cancelled' when the stream closes, also after a call that was answered:
      // the listener goes with the answer, so only a real cancellation makes an error.
      const onCancel = () => abort.abort(new CancelledError(`${method} cancelled by the client`));
      let timer: NodeJS.Timeout | undefined;
      let answered = false;
      // The first answer counts (the handler's, or the budget's); a late outcome is dropped.
      const answer = (): boolean => {
        if (answered) return false;
        answered = true;
        clearTimeout(timer);
        call.removeListener('cancelled', onCancel);
        return true;
      };
      const fail = (err: unknown): void => {
        if (!answer()) return;
        const st = toStatus(err);
        const details = boundDetails(st.details);
        this.finish(service, method, start, st.code, details);
        callback({ code: st.code, details });
      };
      try {
        check(call.request);
      } catch (err) {
        fail(err);
        return;
      }
      call.once('cancelled', onCancel);
      let res: Promise<unknown>;
      try {
        res = handler(call.request, { method, get signal() { return abort.signal; } });
      } catch (err) {
        res = Promise.reject(err);
      }
      const budget = callBudgetMs(method, call.request);
      if (budget !== undefined) {
        timer = setTimeout(() => {
          const err = new DeadlineExceededError(`${method}: berth gave up after ${Math.round(budget / 1000)} s`);
          abort.abort(err);
          fail(err);
        }, budget);
        timer.unref();
      }
      res.then(
        (value) => {
          if (answered) return;
          let encoded: Buffer;
          try {
            encoded = encode(value);
          } catch (err) {
            fail(err);
            return;
          }
          answer();
          this.finish(service, method, start, grpc.status.OK);
          callback(null, encoded);
        },
        fail,
      );
    });
  }

  /**
   * A client-streaming call (berth.v1 LoadImages) is answered once, as a unary call is; it has no
   * time budget, since its length is the client's upload.
   */
  private wrapClientStream(service: string, method: string, handler: AnyClientStream | undefined): grpc.handleClientStreamingCall<unknown, unknown> {
    return (call, callback) => {
      const start = process.hrtime.bigint();
      this.inFlight++;
      const fail = (code: grpc.status, details: string): void => {
        this.finish(service, method, start, code, details);
        callback({ code, details });
      };
      if (!handler) return fail(grpc.status.UNIMPLEMENTED, `${service}.${method} is not implemented by berth yet`);
      const abort = new AbortController();
      call.once('cancelled', () => abort.abort(new CancelledError(`${method} cancelled by the client`)));
      let res: Promise<unknown>;
      try {
        res = handler(call, { method, signal: abort.signal });
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
          fail(st.code, boundDetails(st.details));
        },
      );
    };
  }

  private wrapStream(service: string, method: string, check: (req: unknown) => void, handler: AnyStream | undefined): grpc.handleServerStreamingCall<unknown, unknown> {
    return (call) => this.inCallContext(method, call, () => {
      const start = process.hrtime.bigint();
      this.inFlight++;
      if (!handler) {
        const details = `${service}.${method} is not implemented by berth yet`;
        this.finish(service, method, start, grpc.status.UNIMPLEMENTED, details);
        call.emit('error', { code: grpc.status.UNIMPLEMENTED, details });
        return;
      }
      try {
        check(call.request);
      } catch (err) {
        const st = toStatus(err);
        const details = boundDetails(st.details);
        this.finish(service, method, start, st.code, details);
        call.emit('error', { code: st.code, details });
        return;
      }
      this.streams.set(call, method);
      const forget = () => this.streams.delete(call);
      call.once('cancelled', forget);
      call.once('finish', forget);
      if (isListStream(method)) {
        // A list stream ends by itself: count it then, with its outcome and duration.
        let done = false;
        const end = (code: grpc.status, details?: string) => {
          if (done) return;
          done = true;
          forget();
          this.finish(service, method, start, code, details);
        };
        call.once('finish', () => end(grpc.status.OK));
        call.once('cancelled', () => end(grpc.status.CANCELLED));
        call.once('error', (e: { code?: grpc.status; details?: string }) => end(e.code ?? grpc.status.INTERNAL, e.details));
      } else {
        // An event stream is long-lived: count it once opened, but never hold shutdown for it.
        this.finish(service, method, start, grpc.status.OK);
      }
      try {
        handler(call);
      } catch (err) {
        const st = toStatus(err);
        call.emit('error', { code: st.code, details: boundDetails(st.details) });
      }
    });
  }

  async listen(socket: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.grpc.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Stops taking calls and waits up to `graceMs` for those in flight, then cuts the rest off. */
  async shutdown(graceMs: number): Promise<void> {
    // Event streams never end by themselves; close them so they do not hold the shutdown. A list
    // stream still sending ends with UNAVAILABLE, so its client does not take a part for the whole.
    for (const [call, method] of this.streams) {
      if (isListStream(method)) call.emit('error', { code: grpc.status.UNAVAILABLE, details: `${method}: berth is shutting down` });
      else call.end();
    }
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

/** KEP-5825 list streams (StreamContainers, …), as opposed to the GetContainerEvents feed. */
function isListStream(method: string): boolean {
  return method.startsWith('Stream');
}
