// The agent's probes: /healthz answers while the process runs; /readyz is 200 only when every
// check passes (berth installed and answering, node labelled, RuntimeClasses there, the
// cluster's config applied), else 503 with the failing checks, one per line.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { splitHostPort } from '../config/config.js';

export class Health {
  private readonly checks = new Map<string, string | true>();
  private server?: http.Server;

  constructor(names: string[]) {
    for (const n of names) this.checks.set(n, 'not done yet');
  }

  /** Marks a check passed (true) or failing with a reason. */
  set(name: string, state: true | string): void {
    this.checks.set(name, state);
  }

  passed(name: string): boolean {
    return this.checks.get(name) === true;
  }

  ready(): boolean {
    return [...this.checks.values()].every((v) => v === true);
  }

  report(): string {
    return [...this.checks.entries()].map(([k, v]) => `${v === true ? '[+]' : '[-]'}${k} ${v === true ? 'ok' : `failed: ${v}`}`).join('\n') + '\n';
  }

  /** Listens on host:port (port 0 picks one); resolves with the bound address. */
  async listen(address: string): Promise<string> {
    const { host, port } = splitHostPort(address, '--health-listen');
    this.server = http.createServer((req, res) => {
      const url = (req.url ?? '').split('?')[0];
      if (url === '/healthz') return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      if (url === '/readyz') return void res.writeHead(this.ready() ? 200 : 503, { 'Content-Type': 'text/plain' }).end(this.report());
      res.writeHead(404).end('not found\n');
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host || '0.0.0.0', resolve);
    });
    const a = this.server.address() as AddressInfo;
    return `${a.address}:${a.port}`;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}
