import { CancelledError, DeadlineExceededError } from '../errors/errors.js';
import type { ServerReadableCall, ServerWritableCall } from '../grpc/calls.js';
import { GrpcServer, type ClientStreamImpl, type MethodDef, type ServerStreamImpl, type UnaryCall, type UnaryImpl } from '../grpc/server.js';
import { Status, type StatusError } from '../grpc/wire.js';
import { withCallFields } from '../log/context.js';
import type { Logger } from '../log/log.js';
import type { Metrics } from '../metrics/metrics.js';
import { CallAbort, MAX_MESSAGE_BYTES, REQUEST_ID_KEY, boundAnswer, boundDetails, callBudgetMs, callLogFields, requestId } from './call.js';
import { RequestGuard, tolerantDeserializers } from './guard.js';
import type { CallContext, HandlerSet } from './handlers.js';
import type { ExtraService } from './module.js';
import { PROTO_PATH, criServices, protoRoot } from './proto.js';
import { codeName, toStatus } from './status.js';
import { type Deadline, Deadlines } from './deadlines.js';
import { answerEncoder } from './status-memo.js';

type AnyUnary = (req: unknown, ctx: CallContext) => Promise<unknown>;
type AnyStream = (call: ServerWritableCall) => void;
type AnyClientStream = (call: ServerReadableCall, ctx: CallContext) => Promise<unknown>;

/**
 * The CRI gRPC server: every rpc of RuntimeService and ImageService is registered; those with
 * no handler answer UNIMPLEMENTED naming the method. Each request is checked against its schema
 * (guard.ts) before its handler sees it, runs with its request id in every log line, gets at most
 * its budget of time (call.ts), and is answered with an error message of bounded size. Each call
 * is logged at debug and counted. berth's own services (proto/berth/v1) are served beside them.
 */
export class CriServer {
  readonly grpc = new GrpcServer({ maxMessageBytes: MAX_MESSAGE_BYTES });
  private inFlight = 0;
  /** Open server streams, by the method they serve. */
  private readonly streams = new Map<ServerWritableCall, string>();
  private readonly guard = new RequestGuard();
  private readonly deadlines = new Deadlines();

  constructor(
    private readonly handlers: HandlerSet,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    extraServices: ExtraService[] = [],
  ) {
    const cri = criServices();
    this.register('RuntimeService', cri.RuntimeService, this.handlers, true);
    this.register('ImageService', cri.ImageService, this.handlers, true);
    for (const s of extraServices) this.register(s.name, s.definition, s.handlers, false);
  }

  /**
   * `guarded`: requests are checked against the CRI schema, and one that does not decode is
   * INVALID_ARGUMENT (berth's own services check their own).
   */
  private register(service: string, loaded: object, handlers: object, guarded: boolean): void {
    const table = handlers as Record<string, AnyUnary | AnyStream | AnyClientStream | undefined>;
    const def = guarded ? tolerantDeserializers(loaded as Record<string, MethodDef>) : (loaded as Record<string, MethodDef>);
    for (const [method, md] of Object.entries(def)) {
      const handler = table[method];
      if (md.requestStream) {
        this.grpc.addMethod(md, this.wrapClientStream(service, method, handler as AnyClientStream | undefined));
        continue;
      }
      const reqType = guarded ? this.guard.requestType(`runtime.v1.${service}`, method) : undefined;
      const check = (req: unknown): void => void (reqType && this.guard.check(reqType, req));
      // List streams write responses they encoded item by item (list-stream.ts); unary answers
      // are encoded by wrapUnary, to bound their size.
      this.grpc.addMethod(md, md.responseStream
        ? this.wrapStream(service, method, check, handler as AnyStream | undefined)
        : this.wrapUnary(service, method, check, handler as AnyUnary | undefined, unaryEncoder(method, md, guarded)));
    }
  }

  /** Runs `fn` in the call's log context: its request id, method and the ids it names. */
  private inCallContext<T>(method: string, call: { metadata: { get(key: string): unknown[] }; request: unknown }, fn: () => T): T {
    const id = requestId(call.metadata.get(REQUEST_ID_KEY)[0]);
    return withCallFields(callLogFields(id, method, call.request), fn);
  }

  private finish(service: string, method: string, start: bigint, code: Status, err?: string): void {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const name = codeName(code);
    this.metrics.requests.inc({ service, method, code: name });
    this.metrics.duration.observe({ service, method }, seconds);
    const ms = Math.round(seconds * 1e6) / 1e3;
    if (code !== Status.OK && code !== Status.NOT_FOUND && code !== Status.CANCELLED) this.log.warn({ method, code: name, ms, err }, 'cri call failed');
    else if (this.log.isLevelEnabled('debug')) this.log.debug({ method, code: name, ms }, 'cri call'); // nothing built at info
    this.inFlight--;
  }

  private wrapUnary(service: string, method: string, check: (req: unknown) => void, handler: AnyUnary | undefined, encode: (v: unknown) => Buffer): UnaryImpl {
    return (call, respond) => this.inCallContext(method, call, () => {
      const start = process.hrtime.bigint();
      this.inFlight++;
      if (!handler) {
        const details = notImplemented(service, method);
        this.finish(service, method, start, Status.UNIMPLEMENTED, details);
        respond({ code: Status.UNIMPLEMENTED, details });
        return;
      }
      const abort = new CallAbort();
      let timer: Deadline | undefined;
      let answered = false;
      // The first answer counts (the handler's, the deadline's, or the client's cancel); a late outcome is dropped.
      const answer = (): boolean => {
        if (answered) return false;
        answered = true;
        this.deadlines.cancel(timer);
        call.onCancel = undefined;
        return true;
      };
      const fail = (err: unknown): void => {
        if (!answer()) return;
        const st = wireStatus(err);
        this.finish(service, method, start, st.code, st.details);
        respond(st);
      };
      try {
        check(call.request);
      } catch (err) {
        fail(err);
        return;
      }
      call.onCancel = () => {
        const err = new CancelledError(`${method} cancelled by the client`);
        abort.abort(err);
        fail(err);
      };
      let res: Promise<unknown>;
      try {
        res = handler(call.request, { method, get signal() { return abort.signal; } });
      } catch (err) {
        res = Promise.reject(err);
      }
      timer = this.deadline(method, call, abort, fail);
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
          this.finish(service, method, start, Status.OK);
          respond(null, encoded);
        },
        fail,
      );
    });
  }

  /**
   * One deadline per call (deadlines.ts), at whichever comes first: berth's own budget for the method
   * (call.ts) or the client's deadline (grpc-timeout). Either aborts the handler and answers DEADLINE_EXCEEDED.
   */
  private deadline(method: string, call: UnaryCall, abort: CallAbort, fail: (err: unknown) => void): Deadline | undefined {
    const budget = callBudgetMs(method, call.request);
    const client = call.timeoutMs;
    if (budget === undefined && client === undefined) return undefined;
    const byClient = client !== undefined && (budget === undefined || client < budget);
    const ms = byClient ? client : budget!;
    return this.deadlines.add(ms, () => {
      const err = new DeadlineExceededError(byClient ? `${method}: the client's deadline of ${ms} ms passed` : `${method}: berth gave up after ${Math.round(ms / 1000)} s`);
      abort.abort(err);
      fail(err);
    });
  }

  /**
   * A client-streaming call (berth.v1 LoadImages) is answered once, as a unary call is; it has no
   * time budget, since its length is the client's upload.
   */
  private wrapClientStream(service: string, method: string, handler: AnyClientStream | undefined): ClientStreamImpl {
    return (call, respond) => {
      const start = process.hrtime.bigint();
      this.inFlight++;
      const fail = (code: Status, details: string): void => {
        this.finish(service, method, start, code, details);
        respond({ code, details });
      };
      if (!handler) return fail(Status.UNIMPLEMENTED, notImplemented(service, method));
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
          this.finish(service, method, start, Status.OK);
          respond(null, value);
        },
        (err: unknown) => {
          const st = wireStatus(err);
          fail(st.code, st.details);
        },
      );
    };
  }

  private wrapStream(service: string, method: string, check: (req: unknown) => void, handler: AnyStream | undefined): ServerStreamImpl {
    return (call) => this.inCallContext(method, call, () => {
      const start = process.hrtime.bigint();
      this.inFlight++;
      if (!handler) {
        const details = notImplemented(service, method);
        this.finish(service, method, start, Status.UNIMPLEMENTED, details);
        call.emit('error', { code: Status.UNIMPLEMENTED, details });
        return;
      }
      try {
        check(call.request);
      } catch (err) {
        const st = wireStatus(err);
        this.finish(service, method, start, st.code, st.details);
        call.emit('error', st);
        return;
      }
      this.streams.set(call, method);
      const forget = () => this.streams.delete(call);
      call.once('cancelled', forget);
      call.once('finish', forget);
      if (isListStream(method)) {
        // A list stream ends by itself: count it then, with its outcome and duration.
        let done = false;
        const end = (code: Status, details?: string) => {
          if (done) return;
          done = true;
          forget();
          this.finish(service, method, start, code, details);
        };
        call.once('finish', () => end(Status.OK));
        call.once('cancelled', () => end(Status.CANCELLED));
        call.once('error', (e: { code?: Status; details?: string }) => end(e.code ?? Status.INTERNAL, e.details));
      } else {
        // An event stream is long-lived: count it once opened, but never hold shutdown for it.
        this.finish(service, method, start, Status.OK);
      }
      try {
        handler(call);
      } catch (err) {
        call.emit('error', wireStatus(err));
      }
    });
  }

  listen(socket: string): Promise<void> {
    return this.grpc.listen(socket);
  }

  /** Stops taking calls and waits up to `graceMs` for those in flight, then cuts the rest off. */
  async shutdown(graceMs: number): Promise<void> {
    // Event streams never end by themselves; close them so they do not hold the shutdown. A list
    // stream still sending ends with UNAVAILABLE, so its client does not take a part for the whole.
    for (const [call, method] of this.streams) {
      if (isListStream(method)) call.emit('error', { code: Status.UNAVAILABLE, details: `${method}: berth is shutting down` });
      else call.end();
    }
    const inFlight = this.inFlight;
    await this.grpc.shutdown(graceMs);
    if (this.grpc.openSessions) this.log.warn({ inFlight }, 'shutdown grace expired; cancelling calls still in flight');
  }
}

/** How a unary answer is encoded, then bounded in size (the CRI status rpcs' status from a cache). */
function unaryEncoder(method: string, md: MethodDef, cri: boolean): (v: unknown) => Buffer {
  const encode = cri ? answerEncoder(method, md, protoRoot(PROTO_PATH)) : (v: unknown) => md.responseSerialize(v);
  return (v) => boundAnswer(method, encode(v));
}

/** KEP-5825 list streams (StreamContainers, …), as opposed to the GetContainerEvents feed. */
function isListStream(method: string): boolean {
  return method.startsWith('Stream');
}

/** A thrown value as the status a client gets: the mapped code, details bounded in size. */
function wireStatus(err: unknown): StatusError {
  const st = toStatus(err);
  return { code: st.code, details: boundDetails(st.details) };
}

function notImplemented(service: string, method: string): string {
  return `${service}.${method} is not implemented by berth yet`;
}
