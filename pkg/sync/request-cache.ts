// kubelet gives up on a RunPodSandbox or CreateContainer after its own timeout (2–4 min) and
// sends the same request again. The retry must get the object the first call made, not
// "name is reserved": a call still in progress is joined, and one that finished within the
// window is answered with the same result (CRI-O's resourcestore does the same).
import { createHash } from 'node:crypto';
import { AlreadyExistsError } from '../errors/errors.js';

interface Finished<T> {
  fingerprint: string;
  value: T;
  at: number;
}

export interface RequestCacheOptions {
  /** How long a finished request is answered from the cache. */
  windowMs: number;
  /** Names the kind of object in error messages ("pod sandbox", "container"). */
  what: string;
  now?: () => number;
}

export class RequestCache<T> {
  private readonly inFlight = new Map<string, { fingerprint: string; done: Promise<T> }>();
  private readonly finished = new Map<string, Finished<T>>();
  private readonly now: () => number;

  constructor(private readonly o: RequestCacheOptions) {
    this.now = o.now ?? Date.now;
  }

  /**
   * Runs `fn` for the request `key` (the object's name) with `fingerprint` (a hash of the whole
   * request), unless the same request is running (joined) or finished within the window and
   * `stillValid` says its result still stands (returned). The same name with another
   * fingerprint while a call is in progress is refused with AlreadyExistsError.
   */
  async run(key: string, fingerprint: string, fn: () => Promise<T>, stillValid: (v: T) => boolean = () => true): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) {
      if (running.fingerprint === fingerprint) return running.done;
      throw new AlreadyExistsError(`${this.o.what} name "${key}" is reserved by a request in progress with a different config`);
    }
    this.prune();
    const hit = this.finished.get(key);
    if (hit && hit.fingerprint === fingerprint && stillValid(hit.value)) return hit.value;
    const done = fn();
    this.inFlight.set(key, { fingerprint, done });
    try {
      const value = await done;
      this.finished.set(key, { fingerprint, value, at: this.now() });
      return value;
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** Records a request that finished earlier (e.g. loaded from the database at start). */
  remember(key: string, fingerprint: string, value: T, at: number): void {
    if (this.now() - at < this.o.windowMs) this.finished.set(key, { fingerprint, value, at });
  }

  /** Drops the answer for `key` (its object was removed). */
  forget(key: string): void {
    this.finished.delete(key);
  }

  /** Requests in progress (tests, diagnostics). */
  get pending(): number {
    return this.inFlight.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [k, f] of this.finished) if (now - f.at >= this.o.windowMs) this.finished.delete(k);
  }
}

/** A stable fingerprint of a request: sha256 of its JSON (bigints as strings). */
export function fingerprintOf(req: unknown): string {
  return createHash('sha256').update(JSON.stringify(req, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).digest('hex');
}
