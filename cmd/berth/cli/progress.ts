// Pull progress as people read it: on a terminal, a bar per layer redrawn in place (bytes, rate,
// ETA, "Already exists"); elsewhere one line per layer as it finishes.
import type { LayerProgressMessage } from '../../../pkg/client/berth.js';
import { humanBytes, shortId } from './output.js';

interface Layer {
  digest: string;
  size: number;
  current: number;
  state: string;
  /** Smoothed bytes per second and the sample it was last updated from. */
  rate: number;
  at: number;
  atBytes: number;
  reported: boolean;
}

const LABEL: Record<string, string> = {
  LAYER_WAITING: 'Waiting',
  LAYER_DOWNLOADING: 'Downloading',
  LAYER_EXTRACTING: 'Extracting',
  LAYER_DONE: 'Pull complete',
  LAYER_ALREADY_EXISTS: 'Already exists',
};

const BAR = 30;

function seconds(s: number): string {
  if (!Number.isFinite(s)) return '--';
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
}

export function layerLine(l: Pick<Layer, 'digest' | 'size' | 'current' | 'state' | 'rate'>): string {
  const head = `${shortId(l.digest.replace(/^sha256:/, '')).slice(0, 12)}: ${LABEL[l.state] ?? l.state}`;
  if (l.state !== 'LAYER_DOWNLOADING') return l.state === 'LAYER_DONE' ? `${head} (${humanBytes(l.size)})` : head;
  const frac = l.size ? Math.min(1, l.current / l.size) : 0;
  const full = Math.floor(frac * BAR);
  const bar = '='.repeat(full) + (full < BAR ? '>' : '') + ' '.repeat(Math.max(0, BAR - full - 1));
  const eta = l.rate > 0 ? seconds((l.size - l.current) / l.rate) : '--';
  return `${head.padEnd(27)} [${bar}] ${humanBytes(l.current)}/${humanBytes(l.size)} ${humanBytes(l.rate)}/s ETA ${eta}`;
}

export class PullProgressView {
  private readonly layers = new Map<string, Layer>();
  private drawn = 0;

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, private readonly tty = !!out.isTTY) {}

  update(msgs: LayerProgressMessage[], now = Date.now()): void {
    for (const m of msgs) {
      const size = Number(m.size);
      const current = Number(m.current);
      let l = this.layers.get(m.digest);
      if (!l) {
        l = { digest: m.digest, size, current, state: m.state, rate: 0, at: now, atBytes: current, reported: false };
        this.layers.set(m.digest, l);
      }
      const dt = (now - l.at) / 1000;
      if (m.state === 'LAYER_DOWNLOADING' && dt >= 0.2) {
        const inst = (current - l.atBytes) / dt;
        l.rate = l.rate ? 0.7 * l.rate + 0.3 * inst : inst;
        l.at = now;
        l.atBytes = current;
      }
      Object.assign(l, { size, current, state: m.state });
    }
    if (this.tty) this.redraw();
    else this.reportFinished();
  }

  private redraw(): void {
    const cols = this.out.columns ?? 120;
    let s = this.drawn ? `\x1b[${this.drawn}A` : '';
    for (const l of this.layers.values()) s += `\x1b[2K${layerLine(l).slice(0, cols - 1)}\n`;
    this.drawn = this.layers.size;
    this.out.write(s);
  }

  private reportFinished(): void {
    for (const l of this.layers.values()) {
      if (l.reported || (l.state !== 'LAYER_DONE' && l.state !== 'LAYER_ALREADY_EXISTS')) continue;
      l.reported = true;
      this.out.write(layerLine(l) + '\n');
    }
  }
}
