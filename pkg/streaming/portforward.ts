// Port-forward over SPDY (portforward.k8s.io), as kubectl and crictl speak it: for each forwarded
// connection the client opens an `error` and a `data` stream with the same `requestID` and
// `port` headers; berth connects to the port inside the pod and copies both ways. Failures are
// written to that connection's error stream; the session lives until the client hangs up.
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/log.js';
import type { SpdySession, SpdyStream } from './spdy/session.js';
import { SessionDialer } from './session-dialer.js';
import type { PortForwardBackend, PortForwardParams } from './types.js';

export const PORTFORWARD_PROTOCOLS = ['portforward.k8s.io'];
const PAIR_TIMEOUT_MS = 30_000;

interface Pair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

export function serveSpdyPortForward(
  session: SpdySession,
  params: PortForwardParams,
  backend: PortForwardBackend | undefined,
  log: Logger,
): void {
  const pairs = new Map<string, Pair>();
  const conns = new Set<Duplex>();
  const pod = new SessionDialer(backend, params.sandboxId, log);

  session.once('close', () => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    pairs.clear();
    for (const c of conns) c.destroy();
    pod.close();
  });

  session.on('stream', (s) => {
    s.on('error', () => {});
    const type = s.header('streamType');
    let id = s.header('requestID');
    if (id === undefined) {
      // Clients before requestID existed opened error then data with consecutive odd ids.
      id = String(type === 'data' ? s.id - 2 : s.id);
    }
    if (type !== 'data' && type !== 'error') {
      log.debug({ type }, 'port-forward: unexpected stream type');
      s.reset();
      return;
    }
    let pair = pairs.get(id);
    if (!pair) {
      const key = id;
      pair = {
        timer: setTimeout(() => {
          const p = pairs.get(key);
          pairs.delete(key);
          p?.error?.end('timed out waiting for the data and error streams of the connection');
          p?.data?.reset();
        }, PAIR_TIMEOUT_MS),
      };
      pair.timer.unref();
      pairs.set(id, pair);
    }
    if (pair[type]) {
      s.reset();
      return;
    }
    pair[type] = s;
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      pairs.delete(id);
      void forward(pair.data, pair.error);
    }
  });

  async function forward(data: SpdyStream, error: SpdyStream): Promise<void> {
    error.resume(); // the client writes nothing on it (it closes its side at once)
    const portText = data.header('port') ?? '';
    const port = Number(portText);
    const fail = (msg: string) => {
      if (!error.destroyed) error.end(msg);
      if (!data.destroyed) data.end();
    };
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) return fail(`invalid port "${portText}"`);
    if (params.ports.length && !params.ports.includes(port)) {
      return fail(`port ${port} was not requested for pod sandbox ${params.sandboxId}`);
    }
    let conn: Duplex;
    try {
      conn = await pod.dial(port);
    } catch (err) {
      return fail((err as Error).message);
    }
    if (data.destroyed || session.closed) {
      conn.destroy();
      return;
    }
    conns.add(conn);
    conn.on('error', (err) => {
      if (!error.destroyed) error.write(`error forwarding port ${port} to pod ${params.sandboxId}: ${err.message}`);
    });
    data.pipe(conn); // the client's FIN half-closes the TCP connection
    conn.pipe(data); // the pod's FIN ends the data stream
    let open = 2;
    const done = () => {
      if (--open > 0) return;
      conns.delete(conn);
      conn.destroy();
      if (!error.destroyed) error.end();
    };
    conn.once('close', () => {
      if (!data.writableEnded && !data.destroyed) data.end();
      done();
    });
    data.once('close', () => {
      conn.destroy();
      done();
    });
  }
}
