// A fake pod network for unit tests of the sandbox service: attachments in memory, with
// failpoints at ADD and DEL (as the real manager, a failed ADD undoes itself first).
import type { AttachRequest, NetworkStatus, PodNetwork } from '../manager.js';
import { parseResult, type CniResult } from '../result.js';
import { Faults } from '../../testing/faults.js';

export class FakeNetwork implements PodNetwork {
  readonly faults = new Faults();
  /** Attachments begun and not deleted, by sandbox id. */
  readonly attached = new Map<string, AttachRequest & { ip: string }>();
  ready = true;
  private nextIp = 2;

  networkStatus(): NetworkStatus {
    return this.ready ? { ready: true, reason: '', message: '' } : { ready: false, reason: 'NetworkPluginNotReady', message: 'fake network not ready' };
  }

  async requireNetwork(): Promise<unknown> {
    if (!this.ready) throw new Error('network not ready: fake network not ready');
    return {};
  }

  async add(req: AttachRequest): Promise<CniResult> {
    this.attached.set(req.id, { ...req, ip: `10.99.${this.nextIp >> 8}.${this.nextIp++ & 255}` });
    try {
      await this.faults.hit('ADD');
    } catch (err) {
      await this.del(req.id).catch(() => undefined);
      throw err;
    }
    return (await this.cachedResult(req.id))!;
  }

  async del(id: string): Promise<void> {
    if (!this.attached.has(id)) return;
    await this.faults.hit('DEL');
    this.attached.delete(id);
  }

  async cachedResult(id: string): Promise<CniResult | undefined> {
    const a = this.attached.get(id);
    return a ? parseResult({ cniVersion: '1.0.0', ips: [{ address: `${a.ip}/16` }] }, '1.0.0') : undefined;
  }

  async attachments(): Promise<string[]> {
    return [...this.attached.keys()];
  }
}
