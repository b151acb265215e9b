import type { Duplex } from 'node:stream';
import type { Logger } from '../log/log.js';
import type { PortDialer, PortForwardBackend } from './types.js';

/**
 * The pod's dialer for one port-forward session (SPDY or WebSocket): opened on the first
 * connection, shared by the rest, closed with the session.
 */
export class SessionDialer {
  private dialer: Promise<PortDialer> | undefined;

  constructor(
    private readonly backend: PortForwardBackend | undefined,
    private readonly sandboxId: string,
    private readonly log: Logger,
  ) {}

  /** A connection to `port` inside the pod; a failure's message names the port and the pod. */
  async dial(port: number): Promise<Duplex> {
    try {
      if (!this.backend) throw new Error('port-forward is not available: no sandbox runtime is loaded');
      this.dialer ??= this.backend.open(this.sandboxId);
      return await (await this.dialer).dial(port);
    } catch (err) {
      this.log.debug({ sandbox: this.sandboxId, port, err: (err as Error).message }, 'port-forward: connect failed');
      throw new Error(`error forwarding port ${port} to pod ${this.sandboxId}: ${(err as Error).message}`);
    }
  }

  close(): void {
    void this.dialer?.then((d) => d.close(), () => {});
  }
}
