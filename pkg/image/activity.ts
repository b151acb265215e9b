// Pulls in progress (with each layer's progress) and the last few that ended, for whoever shows
// pull activity (the dashboard). Only the reference, times, layers and outcome are kept: never
// the credentials of a pull.
import { EventEmitter } from 'node:events';
import type { ImageRecord, LayerProgress, PullProgressListener } from './types.js';

export interface PullRecord {
  /** Sequence number, unique for this daemon's life. */
  id: number;
  ref: string;
  /** Milliseconds since the epoch. */
  startedAt: number;
  finishedAt?: number;
  outcome?: 'ok' | 'error';
  /** The pulled image's ID (on success) or the error message (on failure). */
  imageId?: string;
  error?: string;
  /** Each layer's state and bytes, as the pull last reported them (empty until the manifest is read). */
  layers: LayerProgress[];
}

export interface PullActivityEvents {
  on(event: 'change', listener: (p: PullRecord) => void): this;
  off(event: 'change', listener: (p: PullRecord) => void): this;
}

/** Emits 'change' with a pull's record when it starts and when it ends (not at each layer's bytes). */
export class PullActivity extends EventEmitter implements PullActivityEvents {
  private readonly running = new Map<number, PullRecord>();
  private readonly ended: PullRecord[] = [];
  private seq = 0;

  constructor(private readonly keepEnded = 20) {
    super();
  }

  /**
   * Runs `start` (a pull of `ref`) and records it until it settles; `start` gets the listener to
   * feed the pull's layer progress to. Returns the pull's own promise.
   */
  track(ref: string, start: (onLayer: PullProgressListener) => Promise<ImageRecord>): Promise<ImageRecord> {
    const rec: PullRecord = { id: ++this.seq, ref, startedAt: Date.now(), layers: [] };
    const byDigest = new Map<string, LayerProgress>();
    const onLayer: PullProgressListener = (l) => {
      const known = byDigest.get(l.digest);
      if (known) Object.assign(known, l);
      else {
        const mine = { ...l };
        byDigest.set(l.digest, mine);
        rec.layers.push(mine);
      }
    };
    this.running.set(rec.id, rec);
    this.emit('change', copy(rec));
    const end = (done: Partial<PullRecord>) => {
      Object.assign(rec, done, { finishedAt: Date.now() });
      this.running.delete(rec.id);
      this.ended.unshift(rec);
      this.ended.length = Math.min(this.ended.length, this.keepEnded);
      this.emit('change', copy(rec));
    };
    const pull = start(onLayer);
    pull.then(
      (img) => end({ outcome: 'ok', imageId: img.id }),
      (err: unknown) => end({ outcome: 'error', error: err instanceof Error ? err.message : String(err) }),
    );
    return pull;
  }

  /** Pulls under way, oldest first, then the last ones that ended, newest first. */
  snapshot(): { running: PullRecord[]; ended: PullRecord[] } {
    return { running: [...this.running.values()].map(copy), ended: this.ended.map(copy) };
  }
}

const copy = (r: PullRecord): PullRecord => ({ ...r, layers: r.layers.map((l) => ({ ...l })) });
