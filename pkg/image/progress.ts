// Per-layer pull progress for a listener (berth's PullImage progress stream): each layer's
// state and bytes, fed by the content store's download watchers, so a layer that another pull
// downloads reports its bytes here too.
import type { Descriptor } from './manifest.js';
import type { ImageServiceImpl } from './service.js';
import type { LayerProgress, PullProgressListener } from './types.js';

export class LayerProgressReporter {
  private readonly layers: LayerProgress[];
  private readonly unwatch: (() => void)[] = [];

  constructor(
    private readonly svc: ImageServiceImpl,
    descriptors: Descriptor[],
    chain: string[],
    private readonly listener: PullProgressListener,
  ) {
    this.layers = descriptors.map((d, i) => {
      const present = svc.db.snapshots.has(chain[i]!);
      return { digest: d.digest, size: d.size, current: present ? d.size : 0, state: present ? 'exists' : 'waiting' };
    });
    for (const l of this.layers) this.emit(l);
  }

  private emit(l: LayerProgress): void {
    this.listener({ ...l });
  }

  /** Layer i's work starts: its blob downloads (reporting bytes once they flow) or is already stored. */
  async start(i: number): Promise<void> {
    const l = this.layers[i]!;
    if (l.state === 'exists') return;
    if (await this.svc.content.has(l.digest, l.size)) {
      Object.assign(l, { state: 'extracting', current: l.size });
      this.emit(l);
      return;
    }
    // It stays 'waiting' until its bytes flow: the pull's download slots may hold it back.
    this.unwatch.push(
      this.svc.content.watch(l.digest, (written) => {
        if (l.state !== 'downloading' && l.state !== 'waiting') return;
        l.current = written;
        l.state = written >= l.size ? 'extracting' : 'downloading';
        this.emit(l);
      }),
    );
  }

  /** Layer i's snapshot exists. */
  finish(i: number): void {
    const l = this.layers[i]!;
    if (l.state === 'exists') return;
    Object.assign(l, { state: 'done', current: l.size });
    this.emit(l);
  }

  close(): void {
    for (const u of this.unwatch.splice(0)) u();
  }
}
