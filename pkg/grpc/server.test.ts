// The gRPC server over a real unix socket, on each transport (berth's own HTTP/2 and node:http2),
// spoken to with a bare node:http2 client so that every header, frame and trailer is seen as a
// grpc-go client sees it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GrpcServer, type MethodDef, type Respond, type UnaryCall, transportName } from './server.js';
import type { ServerReadableCall, ServerWritableCall } from './calls.js';
import { MessageReader, Status, decodeMessage, frame } from './wire.js';

const text = (b: Buffer): string => b.toString();
const def = (p: string, requestStream = false, responseStream = false): MethodDef => ({
  path: p, requestStream, responseStream, requestDeserialize: text, responseSerialize: (v: string) => Buffer.from(v),
});

interface Answer {
  headers: http2.IncomingHttpHeaders;
  messages: string[];
  trailers: http2.IncomingHttpHeaders | undefined;
}

/** One call on `session`: its headers, messages and trailers (undefined for trailers-only). */
function call(session: http2.ClientHttp2Session, p: string, body: Buffer[], extra: http2.OutgoingHttpHeaders = {}): { done: Promise<Answer>; stream: http2.ClientHttp2Stream } {
  const stream = session.request({ ':method': 'POST', ':path': p, 'content-type': 'application/grpc', te: 'trailers', ...extra });
  const done = new Promise<Answer>((resolve, reject) => {
    const a: Answer = { headers: {}, messages: [], trailers: undefined };
    const reader = new MessageReader(1 << 24);
    stream.on('response', (h) => (a.headers = h));
    stream.on('trailers', (t) => (a.trailers = t));
    stream.on('data', (c: Buffer) => a.messages.push(...reader.push(c).map(text)));
    stream.on('close', () => resolve(a));
    stream.on('error', reject);
  });
  for (const b of body) stream.write(b);
  stream.end();
  return { done, stream };
}

/** grpc-status and the decoded grpc-message of an answer, wherever they came. */
const statusOf = (a: Answer): [number, string] => {
  const h = a.trailers ?? a.headers;
  return [Number(h['grpc-status']), decodeMessage(String(h['grpc-message'] ?? ''))];
};

for (const transport of ['h2', 'http2'] as const) describe(`gRPC server on ${transport}`, () => {
  let dir: string;
  let socket: string;
  let server: GrpcServer;
  let session: http2.ClientHttp2Session;
  const cancelled: string[] = [];
  let pendingRelease: (() => void) | undefined;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-grpc-'));
    socket = path.join(dir, 's.sock');
    server = new GrpcServer({ maxMessageBytes: 1024, keepaliveTimeMs: 50, transport });
    server.addMethod(def('/t.S/Echo'), (c: UnaryCall, respond: Respond) => respond(null, `echo ${String(c.request)} id=${String(c.metadata.get('x-request-id')[0] ?? '')} timeout=${c.timeoutMs}`));
    server.addMethod(def('/t.S/Fail'), (_c: UnaryCall, respond: Respond) => respond({ code: Status.NOT_FOUND, details: 'pod «é» 100% gone\n' }));
    server.addMethod(def('/t.S/Big'), (_c: UnaryCall, respond: Respond) => respond(null, 'x'.repeat(2000)));
    server.addMethod(def('/t.S/Hang'), (c: UnaryCall, respond: Respond) => {
      c.onCancel = () => cancelled.push('Hang');
      pendingRelease = () => respond(null, 'released');
    });
    server.addMethod(def('/t.S/List', false, true), (c: ServerWritableCall) => {
      const n = Number(c.request);
      for (let i = 0; i < n; i++) c.write(`item ${i}`);
      if (n < 0) c.emit('error', { code: Status.FAILED_PRECONDITION, details: 'negative' });
      else if (n === 99) c.on('cancelled', () => cancelled.push('List'));
      else c.end();
    });
    server.addMethod(def('/t.S/Upload', true, false), (c: ServerReadableCall, respond: Respond) => {
      void (async () => {
        const got: string[] = [];
        try {
          for await (const m of c) got.push(m as string);
          respond(null, got.join('+'));
        } catch (err) {
          cancelled.push(`Upload: ${(err as Error).message}`);
        }
      })();
    });
    await server.listen(socket);
    session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
  });

  after(async () => {
    session.close();
    await server.shutdown(1000);
    await rm(dir, { recursive: true, force: true });
  });

  it('answers a unary call: headers, one framed message, then grpc-status 0 in the trailers', async () => {
    const a = await call(session, '/t.S/Echo', [frame(Buffer.from('hi'))], { 'x-request-id': 'r1', 'grpc-timeout': '5S' }).done;
    assert.equal(a.headers[':status'], 200);
    assert.equal(a.headers['content-type'], 'application/grpc');
    assert.deepEqual(a.messages, ['echo hi id=r1 timeout=5000']);
    assert.equal(a.trailers?.['grpc-status'], '0');
  });

  it('takes a request split across DATA frames', async () => {
    const f = frame(Buffer.from('split'));
    const a = await call(session, '/t.S/Echo', [f.subarray(0, 3), f.subarray(3, 6), f.subarray(6)]).done;
    assert.deepEqual(a.messages, ['echo split id= timeout=undefined']);
  });

  it('sends an error before any message as trailers-only, its message percent-encoded', async () => {
    const a = await call(session, '/t.S/Fail', [frame(Buffer.from(''))]).done;
    assert.equal(a.trailers, undefined, 'no separate trailers');
    assert.equal(a.headers['grpc-message'], 'pod %C2%AB%C3%A9%C2%BB 100%25 gone%0A');
    assert.deepEqual(statusOf(a), [Status.NOT_FOUND, 'pod «é» 100% gone\n']);
  });

  it('answers an unknown method UNIMPLEMENTED, a compressed or oversized request, a bad timeout', async () => {
    assert.deepEqual(statusOf(await call(session, '/t.S/Nope', [frame(Buffer.from(''))]).done), [Status.UNIMPLEMENTED, 'unknown method /t.S/Nope']);
    const zipped = frame(Buffer.from('x'));
    zipped[0] = 1;
    assert.equal(statusOf(await call(session, '/t.S/Echo', [zipped]).done)[0], Status.UNIMPLEMENTED);
    assert.deepEqual(statusOf(await call(session, '/t.S/Echo', [frame(Buffer.alloc(1025))]).done), [Status.RESOURCE_EXHAUSTED, 'received message larger than max (1025 vs. 1024)']);
    assert.equal(statusOf(await call(session, '/t.S/Echo', [frame(Buffer.from('x'))], { 'grpc-timeout': 'soon' }).done)[0], Status.INVALID_ARGUMENT);
    assert.equal(statusOf(await call(session, '/t.S/Echo', []).done)[0], Status.INVALID_ARGUMENT, 'no request message');
    assert.equal(statusOf(await call(session, '/t.S/Echo', [frame(Buffer.from('a')), frame(Buffer.from('b'))]).done)[0], Status.INVALID_ARGUMENT, 'two');
    assert.equal(statusOf(await call(session, '/t.S/Big', [frame(Buffer.from(''))]).done)[0], Status.RESOURCE_EXHAUSTED, 'answer over the limit');
  });

  it('answers a request that is not gRPC with HTTP 415', async () => {
    const a = await call(session, '/t.S/Echo', [Buffer.from('x')], { 'content-type': 'text/plain' }).done;
    assert.equal(a.headers[':status'], 415);
  });

  it('tells a unary handler when its client resets the stream', async () => {
    const { stream, done } = call(session, '/t.S/Hang', [frame(Buffer.from(''))]);
    while (!pendingRelease) await new Promise((r) => setImmediate(r));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await done;
    while (!cancelled.includes('Hang')) await new Promise((r) => setImmediate(r));
    pendingRelease(); // a late answer to a gone stream is dropped
    pendingRelease = undefined;
  });

  it('streams messages then OK, or messages then an error status in the trailers', async () => {
    const ok = await call(session, '/t.S/List', [frame(Buffer.from('3'))]).done;
    assert.deepEqual(ok.messages, ['item 0', 'item 1', 'item 2']);
    assert.deepEqual(statusOf(ok), [Status.OK, '']);
    const empty = await call(session, '/t.S/List', [frame(Buffer.from('0'))]).done;
    assert.deepEqual([empty.messages, statusOf(empty)], [[], [Status.OK, '']]);
    const bad = await call(session, '/t.S/List', [frame(Buffer.from('-1'))]).done;
    assert.deepEqual(statusOf(bad), [Status.FAILED_PRECONDITION, 'negative']);
  });

  it('ends a stream at its grpc-timeout with DEADLINE_EXCEEDED and tells the handler', async () => {
    const a = await call(session, '/t.S/List', [frame(Buffer.from('99'))], { 'grpc-timeout': '30m' }).done;
    assert.deepEqual(statusOf(a), [Status.DEADLINE_EXCEEDED, 'deadline exceeded']);
    assert.ok(cancelled.includes('List'));
  });

  it('reads a client stream to its end', async () => {
    const a = await call(session, '/t.S/Upload', ['a', 'bb', '', 'ccc'].map((s) => frame(Buffer.from(s)))).done;
    assert.deepEqual(a.messages, ['a+bb++ccc']);
  });

  it('ends a client stream that sends a compressed message, and its reader learns of it', async () => {
    const zipped = frame(Buffer.from('x'));
    zipped[0] = 1;
    const a = await call(session, '/t.S/Upload', [frame(Buffer.from('a')), zipped]).done;
    assert.equal(statusOf(a)[0], Status.UNIMPLEMENTED);
    while (!cancelled.some((c) => c.startsWith('Upload'))) await new Promise((r) => setImmediate(r));
  });

  it('pings its clients (keepalive)', async () => {
    await new Promise<void>((resolve) => session.once('ping', () => resolve()));
  });

  it('on shutdown finishes the call in flight and takes no new connection', async () => {
    const { done } = call(session, '/t.S/Hang', [frame(Buffer.from(''))]);
    while (!pendingRelease) await new Promise((r) => setImmediate(r));
    const stopping = server.shutdown(5000);
    const refused = new Promise<string>((resolve) => {
      const s = net.connect(socket);
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? ''));
      s.on('connect', () => resolve('connected'));
    });
    assert.match(await refused, /^(ECONNREFUSED|ENOENT)$/, 'node removes the socket file as it stops listening');
    pendingRelease();
    assert.deepEqual((await done).messages, ['released']);
    await stopping;
  });
});

describe('transport choice', () => {
  it('takes the option, else BERTH_GRPC_TRANSPORT, and refuses an unknown name', () => {
    const saved = process.env.BERTH_GRPC_TRANSPORT;
    try {
      process.env.BERTH_GRPC_TRANSPORT = 'http2';
      assert.equal(transportName(), 'http2');
      assert.equal(transportName('h2'), 'h2');
      process.env.BERTH_GRPC_TRANSPORT = 'grpc-js';
      assert.throws(() => transportName(), /BERTH_GRPC_TRANSPORT must be h2 or http2, not "grpc-js"/);
    } finally {
      if (saved === undefined) delete process.env.BERTH_GRPC_TRANSPORT;
      else process.env.BERTH_GRPC_TRANSPORT = saved;
    }
  });
});
