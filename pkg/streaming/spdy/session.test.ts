// The SPDY session against an independent implementation: npm spdy-transport as the client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { SPDY3_DICTIONARY } from './dictionary.js';
import { SpdySession, type SpdyStream } from './session.js';
import { FrameParser, encodeData, encodeRst, parseHeaders, serializeHeaders } from './frames.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const transport: any = require('spdy-transport');
const theirDictionary: Buffer = require('spdy-transport/lib/spdy-transport/protocol/spdy/dictionary.js')[3];

async function withServer(onStream: (s: SpdyStream, sess: SpdySession) => void) {
  const sessions: SpdySession[] = [];
  const server = net.createServer((sock) => {
    const sess = new SpdySession(sock);
    sessions.push(sess);
    sess.on('stream', (s) => onStream(s, sess));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const conn = transport.connection.create(sock, { protocol: 'spdy', isServer: false });
  conn.start(3.1);
  return {
    conn,
    sessions,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    request(headers: Record<string, string>): Promise<any> {
      return new Promise((resolve, reject) =>
        conn.request({ method: 'POST', path: '/', host: 'x', headers }, (err: Error | null, s: unknown) => (err ? reject(err) : resolve(s))),
      );
    },
    async close() {
      sock.destroy();
      for (const s of sessions) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function collect(s: any): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

test('the SPDY/3 dictionary matches an independent copy byte for byte', () => {
  assert.equal(SPDY3_DICTIONARY.length, 1423);
  assert.ok(SPDY3_DICTIONARY.equals(theirDictionary));
});

test('header blocks round-trip, multi-values join with NUL', () => {
  const b = serializeHeaders({ StreamType: 'stdout', port: '80\u00008080' });
  assert.deepEqual(parseHeaders(b), { streamtype: 'stdout', port: '80\u00008080' });
  assert.throws(() => parseHeaders(b.subarray(0, b.length - 1)), /overruns|truncated/);
});

test('frame parser reassembles frames split at any byte', () => {
  const frames = Buffer.concat([encodeData(1, 0, Buffer.from('hello')), encodeRst(3, 5), encodeData(5, 1, Buffer.alloc(0))]);
  const p = new FrameParser();
  const got = [];
  for (const byte of frames) got.push(...p.push(Buffer.from([byte])));
  assert.equal(got.length, 3);
  assert.deepEqual(got[0], { control: false, streamId: 1, flags: 0, payload: Buffer.from('hello') });
  assert.equal(got[1]!.control, true);
  assert.equal((got[2] as { flags: number }).flags, 1);
});

test('streams carry headers and 4 MiB each way on 5 concurrent streams, with flow control', async () => {
  const seen: string[] = [];
  const h = await withServer((s) => {
    seen.push(s.header('streamType') ?? '');
    s.pipe(s); // echo; the peer's FIN ends our side
  });
  try {
    const payloads = Array.from({ length: 5 }, () => randomBytes(4 * 1024 * 1024));
    const results = await Promise.all(
      payloads.map(async (p, i) => {
        const s = await h.request({ streamtype: `data-${i}`, requestid: String(i) });
        const done = collect(s);
        s.end(p);
        return done;
      }),
    );
    results.forEach((r, i) => assert.equal(createHash('sha256').update(r).digest('hex'), createHash('sha256').update(payloads[i]!).digest('hex')));
    assert.deepEqual(seen.sort(), ['data-0', 'data-1', 'data-2', 'data-3', 'data-4']);
    assert.ok(h.sessions[0]!.peerFlowControl, 'spdy-transport announces SETTINGS, so windows are enforced');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.sessions[0]!.activeStreams, 0, 'finished streams are forgotten');
  } finally {
    await h.close();
  }
});

test('ping is answered; a reset from the peer destroys the stream', async () => {
  let server: SpdyStream | undefined;
  const closed = new Promise<void>((resolve) => {
    void (async () => {
      const h = await withServer((s) => {
        server = s;
        s.on('close', () => resolve());
      });
      await new Promise<void>((r) => h.conn.ping(() => r()));
      const s = await h.request({ streamtype: 'x' });
      await new Promise((r) => setTimeout(r, 20));
      s.abort?.() ?? s.destroy();
      await new Promise((r) => setTimeout(r, 50));
      await h.close();
    })();
  });
  await closed;
  assert.ok(server!.destroyed);
  assert.notEqual(server!.resetStatus, undefined);
});
