// A gRPC server for berth's unix socket: h2c with prior knowledge (what grpc-go clients speak on
// a unix socket), unary, server-streaming and client-streaming methods, grpc-timeout deadlines,
// cancellation when the client resets its stream, keepalive pings and a graceful shutdown. It
// knows nothing of CRI: pkg/cri registers its methods here. It replaces grpc-js's Server, whose
// per-call machinery (interceptors, channelz, metadata objects) cost more CPU than berth's own
// work on a status call. The HTTP/2 underneath is berth's own (pkg/grpc/h2), or node:http2 when
// BERTH_GRPC_TRANSPORT=http2.
import { type CallInfo, Metadata, RequestStreamCall, Response, ResponseStreamCall, type ServerReadableCall, type ServerWritableCall, asStatus } from './calls.js';
import { H2Transport } from './h2/listener.js';
import type { CallStream, RequestHeaders, Transport } from './transport.js';
import { MessageReader, Status, type StatusError, parseTimeout } from './wire.js';

/** How a method's messages are encoded; the shape of grpc-js's MethodDefinition. */
export interface MethodDef {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize(buf: Buffer): unknown;
  responseSerialize(value: any): Buffer;
}

/** A unary call: its request, metadata and deadline; `onCancel` runs if the client goes first. */
export class UnaryCall {
  cancelled = false;
  onCancel: (() => void) | undefined;
  constructor(readonly request: unknown, readonly metadata: Metadata, readonly timeoutMs: number | undefined) {}
}

/** Answers a call: an error status, or a value (a Buffer is sent as it is, else serialized). */
export type Respond = (err: StatusError | null, value?: unknown) => void;
export type UnaryImpl = (call: UnaryCall, respond: Respond) => void;
export type ServerStreamImpl = (call: ServerWritableCall) => void;
export type ClientStreamImpl = (call: ServerReadableCall, respond: Respond) => void;

type Route =
  | { kind: 'unary'; def: MethodDef; impl: UnaryImpl }
  | { kind: 'server-stream'; def: MethodDef; impl: ServerStreamImpl }
  | { kind: 'client-stream'; def: MethodDef; impl: ClientStreamImpl };

export interface GrpcServerOptions {
  /** Largest message taken or sent. */
  maxMessageBytes: number;
  /** A ping goes to each connection this often (grpc's server default: 2 hours)... */
  keepaliveTimeMs?: number;
  /** ...and a connection that does not answer within this is closed. */
  keepaliveTimeoutMs?: number;
  /** 'h2' (berth's own HTTP/2) or 'http2' (node:http2); else BERTH_GRPC_TRANSPORT, else DEFAULT_TRANSPORT. */
  transport?: TransportName;
}

export type TransportName = 'h2' | 'http2';
const DEFAULT_TRANSPORT: TransportName = 'h2';

/** The transport asked for: the option, else BERTH_GRPC_TRANSPORT, else berth's own. */
export function transportName(opt?: TransportName): TransportName {
  const name = opt ?? process.env.BERTH_GRPC_TRANSPORT ?? DEFAULT_TRANSPORT;
  if (name !== 'h2' && name !== 'http2') throw new Error(`BERTH_GRPC_TRANSPORT must be h2 or http2, not ${JSON.stringify(name)}`);
  return name;
}

export class GrpcServer {
  private readonly routes = new Map<string, Route>();
  private readonly transportKind: TransportName;
  /** Made at listen: node:http2 is loaded only when asked for (it cost ~8 ms of every start-up). */
  private transport: Transport | undefined;
  private closing = false;
  private nextPeer = 0;

  constructor(private readonly opts: GrpcServerOptions) {
    this.transportKind = transportName(opts.transport);
  }

  private async makeTransport(): Promise<Transport> {
    const keepalive = { timeMs: this.opts.keepaliveTimeMs ?? 2 * 3_600_000, timeoutMs: this.opts.keepaliveTimeoutMs ?? 20_000 };
    const onCall = (stream: CallStream, headers: RequestHeaders): void => this.onStream(stream, headers);
    if (this.transportKind === 'h2') return new H2Transport(onCall, keepalive);
    const { Http2Transport } = await import('./http2-transport.js');
    return new Http2Transport(onCall, keepalive);
  }

  addMethod(def: MethodDef, impl: UnaryImpl | ServerStreamImpl | ClientStreamImpl): void {
    if (def.requestStream && def.responseStream) throw new Error(`${def.path}: bidirectional streams are not supported`);
    const kind = def.requestStream ? 'client-stream' : def.responseStream ? 'server-stream' : 'unary';
    this.routes.set(def.path, { kind, def, impl } as Route);
  }

  async listen(socket: string): Promise<void> {
    if (this.transport) throw new Error('gRPC server: listen called twice');
    this.transport = await this.makeTransport();
    return this.transport.listen(socket);
  }

  /** Takes no new connection or call, waits up to `graceMs` for the calls in flight, then cuts them off. */
  shutdown(graceMs: number): Promise<void> {
    this.closing = true;
    return this.transport?.shutdown(graceMs) ?? Promise.resolve();
  }

  /** Connections still open (after shutdown: those whose grace ran out). */
  get openSessions(): number {
    return this.transport?.openSessions ?? 0;
  }

  /** Closes every connection now: calls in flight end for their clients as UNAVAILABLE. */
  forceShutdown(): void {
    this.closing = true;
    this.transport?.forceShutdown();
  }

  private onStream(stream: CallStream, headers: RequestHeaders): void {
    const ct = headers['content-type'];
    if (typeof ct !== 'string' || !ct.startsWith('application/grpc')) return stream.reject(415);
    const res = new Response(stream, this.opts.maxMessageBytes);
    if (this.closing) return res.fail({ code: Status.UNAVAILABLE, details: 'berth is shutting down' });
    const path = typeof headers[':path'] === 'string' ? headers[':path'] : '';
    const route = this.routes.get(path);
    if (!route) return res.fail({ code: Status.UNIMPLEMENTED, details: `unknown method ${path}` });
    let info: CallInfo;
    try {
      info = { metadata: new Metadata(headers), timeoutMs: parseTimeout(headers['grpc-timeout'] as string | undefined), peer: `unix:${++this.nextPeer}` };
    } catch (err) {
      return res.fail(asStatus(err));
    }
    if (route.kind === 'client-stream') return this.clientStream(route, res, info);
    const reader = new MessageReader(this.opts.maxMessageBytes);
    let request: Buffer | undefined;
    let bad: StatusError | undefined;
    stream.on('data', (chunk: Buffer) => {
      if (bad) return;
      try {
        for (const m of reader.push(chunk)) {
          if (request) throw { code: Status.INVALID_ARGUMENT, details: `${path} takes one request message, the client sent more` };
          request = m;
        }
      } catch (err) {
        bad = asStatus(err);
        res.fail(bad);
      }
    });
    stream.once('end', () => {
      if (bad) return;
      if (!request || !reader.atBoundary) return res.fail({ code: Status.INVALID_ARGUMENT, details: `${path}: the request message is missing or cut short` });
      if (route.kind === 'unary') this.unary(route, res, info, request);
      else this.serverStream(route, res, info, request);
    });
  }

  private unary(route: Route & { kind: 'unary' }, res: Response, info: CallInfo, body: Buffer): void {
    const { def } = route;
    const request = decode(def, body, res);
    if (request === NOT_DECODED) return;
    const call = new UnaryCall(request, info.metadata, info.timeoutMs);
    res.stream.once('close', () => {
      if (res.done) return;
      call.cancelled = true;
      call.onCancel?.();
    });
    route.impl(call, (err, value) => this.answer(res, def, err, value));
  }

  private serverStream(route: Route & { kind: 'server-stream' }, res: Response, info: CallInfo, body: Buffer): void {
    const request = decode(route.def, body, res);
    if (request === NOT_DECODED) return;
    const call = new ResponseStreamCall(request, res, info, route.def.responseSerialize);
    this.cancelOnClose(res, info, call);
    route.impl(call);
  }

  private clientStream(route: Route & { kind: 'client-stream' }, res: Response, info: CallInfo): void {
    const { def } = route;
    const call = new RequestStreamCall(res.stream, info);
    const reader = new MessageReader(this.opts.maxMessageBytes);
    const stop = (err: StatusError): void => {
      res.fail(err);
      call.destroy(Object.assign(new Error(err.details), err));
    };
    res.stream.on('data', (chunk: Buffer) => {
      if (res.done) return;
      try {
        for (const m of reader.push(chunk)) call.deliver(def.requestDeserialize(m));
      } catch (err) {
        const st = asStatus(err);
        stop(st.code === Status.UNKNOWN ? { code: Status.INVALID_ARGUMENT, details: `a request message does not decode: ${st.details}` } : st);
      }
    });
    res.stream.once('end', () => {
      if (res.done) return;
      if (!reader.atBoundary) return stop({ code: Status.INVALID_ARGUMENT, details: `${def.path}: the last request message is cut short` });
      call.push(null);
    });
    this.cancelOnClose(res, info, call);
    route.impl(call, (err, value) => this.answer(res, def, err, value));
  }

  /** A stream call is cancelled when its client resets it, or its deadline passes first. */
  private cancelOnClose(res: Response, info: CallInfo, call: { cancel(): void }): void {
    let timer: NodeJS.Timeout | undefined;
    if (info.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        res.fail({ code: Status.DEADLINE_EXCEEDED, details: 'deadline exceeded' });
        call.cancel();
      }, info.timeoutMs).unref();
    }
    res.stream.once('close', () => {
      clearTimeout(timer);
      if (!res.done) call.cancel();
    });
  }

  private answer(res: Response, def: MethodDef, err: StatusError | null, value: unknown): void {
    if (err) return res.fail(err);
    let payload: Buffer;
    try {
      payload = Buffer.isBuffer(value) ? value : def.responseSerialize(value);
    } catch (e) {
      return res.fail({ code: Status.INTERNAL, details: `could not encode the response: ${(e as Error).message}` });
    }
    if (payload.length > this.opts.maxMessageBytes) {
      return res.fail({ code: Status.RESOURCE_EXHAUSTED, details: `the response is ${payload.length} bytes, over the ${this.opts.maxMessageBytes}-byte limit` });
    }
    res.ok(payload);
  }
}

const NOT_DECODED = Symbol('not decoded');

/** The request, or NOT_DECODED once the call was answered INVALID_ARGUMENT. */
function decode(def: MethodDef, body: Buffer, res: Response): unknown {
  try {
    return def.requestDeserialize(body);
  } catch (err) {
    res.fail({ code: Status.INVALID_ARGUMENT, details: `the request does not decode: ${(err as Error).message}` });
    return NOT_DECODED;
  }
}
