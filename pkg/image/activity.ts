// Pulls in progress and the last few that ended, for whoever shows pull activity (the dashboard).
// Only the reference, the times and the outcome are kept: never the credentials of a pull.
import { EventEmitter } from 'node:events';
import type { ImageRecord } from './types.js';

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
}

export interface PullActivityEvents {
  on(event: 'change', listener: (p: PullRecord) => void): this;
  off(event: 'change', listener: (p: PullRecord) => void): this;
}

/** Emits 'change' with a pull's record when it starts and when it ends. */
export class PullActivity extends EventEmitter implements PullActivityEvents {
  private readonly running = new Map<number, PullRecord>();
  private readonly ended: PullRecord[] = [];
  private seq = 0;

  constructor(private readonly keepEnded = 20) {
    super();
  }

  /** Records `pull` (a pull of `ref` under way) until it settles; returns it unchanged. */
  track(ref: string, pull: Promise<ImageRecord>): Promise<ImageRecord> {
    const rec: PullRecord = { id: ++this.seq, ref, startedAt: Date.now() };
    this.running.set(rec.id, rec);
    this.emit('change', { ...rec });
    const end = (done: Partial<PullRecord>) => {
      Object.assign(rec, done, { finishedAt: Date.now() });
      this.running.delete(rec.id);
      this.ended.unshift(rec);
      this.ended.length = Math.min(this.ended.length, this.keepEnded);
      this.emit('change', { ...rec });
    };
    pull.then(
      (img) => end({ outcome: 'ok', imageId: img.id }),
      (err: unknown) => end({ outcome: 'error', error: err instanceof Error ? err.message : String(err) }),
    );
    return pull;
  }

  /** Pulls under way, oldest first, then the last ones that ended, newest first. */
  snapshot(): { running: PullRecord[]; ended: PullRecord[] } {
    return { running: [...this.running.values()].map((r) => ({ ...r })), ended: this.ended.map((r) => ({ ...r })) };
  }
}
