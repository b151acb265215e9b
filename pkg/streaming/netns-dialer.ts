// TCP connections to 127.0.0.1 inside a network namespace. Node cannot setns(2) (it would move
// every thread), so a small helper is started inside the namespace with nsenter; it connects
// and passes each connected socket back over the IPC channel (SCM_RIGHTS). One helper serves
// a whole port-forward session; close() ends it.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { PROJECT_ROOT } from '../version/version.js';

// Run by its own node process from tsc's output, also when this file runs from the bundle.
const CHILD = path.join(PROJECT_ROOT, 'dist/pkg/streaming/netns-dialer-child.js');
const NSENTER = 'nsenter';

interface Reply {
  id?: number;
  ok?: boolean;
  error?: string;
  ready?: boolean;
}

export class NetnsDialer {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (s: net.Socket) => void; reject: (e: Error) => void }>();
  private closed = false;

  /** netnsPath undefined = the host's network namespace: connect directly. */
  constructor(private readonly netnsPath: string | undefined) {}

  async dial(port: number): Promise<net.Socket> {
    if (this.closed) throw new Error('dialer closed');
    if (this.netnsPath === undefined) return connectDirect(port);
    await this.start();
    const id = this.nextId++;
    return new Promise<net.Socket>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child!.send({ id, port });
    });
  }

  close(): void {
    this.closed = true;
    const c = this.child;
    this.child = undefined;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    this.failAll(new Error('dialer closed'));
  }

  /** PID of the helper inside the namespace, if one runs (tests count processes). */
  get helperPid(): number | undefined {
    return this.child?.pid;
  }

  private start(): Promise<void> {
    if (this.ready) return this.ready;
    this.ready = new Promise<void>((resolve, reject) => {
      const child = spawn(NSENTER, [`--net=${this.netnsPath}`, '--', process.execPath, CHILD], {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'json',
      });
      this.child = child;
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
      child.on('message', (msg: Reply, handle?: net.Socket) => {
        if (msg.ready) return resolve();
        const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
        if (!p) {
          handle?.destroy();
          return;
        }
        this.pending.delete(msg.id!);
        if (msg.ok && handle) p.resolve(handle);
        else p.reject(new Error(msg.error ?? 'connect failed'));
      });
      child.once('error', (err) => reject(err));
      child.once('exit', (code, signal) => {
        const err = new Error(`netns helper for ${this.netnsPath} exited (${code ?? signal}): ${stderr.trim()}`);
        reject(err);
        this.failAll(err);
        this.ready = undefined;
        if (this.child === child) this.child = undefined;
      });
    });
    return this.ready;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/** localhost on the host: 127.0.0.1, then ::1 for servers that listen on IPv6 only. */
function connectDirect(port: number, hosts = ['127.0.0.1', '::1']): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: hosts[0] });
    s.once('connect', () => {
      s.removeAllListeners('error');
      s.on('error', () => {}); // the caller adds its own; a late error must never be unhandled
      resolve(s);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      s.destroy();
      if (hosts.length > 1 && err.code === 'ECONNREFUSED') connectDirect(port, hosts.slice(1)).then(resolve, () => reject(err));
      else reject(err);
    });
  });
}
