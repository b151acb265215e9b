// Single-use tokens for streaming URLs. The request's parameters live here, bound to the token,
// so nothing in the URL's query string can change what a token allows.
import { randomBytes } from 'node:crypto';
import type { StreamRequest } from './types.js';

export const TOKEN_TTL_MS = 60_000;
/** Kubelet's cache holds at most this many requests in flight, and so does berth. */
export const MAX_IN_FLIGHT = 1000;

export class TokenCacheFullError extends Error {}

export class TokenCache {
  private readonly entries = new Map<string, { req: StreamRequest; expires: number }>();

  constructor(private readonly ttlMs = TOKEN_TTL_MS, private readonly now: () => number = Date.now) {}

  insert(req: StreamRequest): string {
    this.purge();
    if (this.entries.size >= MAX_IN_FLIGHT) {
      throw new TokenCacheFullError(`too many streaming requests in flight (${MAX_IN_FLIGHT})`);
    }
    const token = randomBytes(16).toString('base64url');
    this.entries.set(token, { req, expires: this.now() + this.ttlMs });
    return token;
  }

  /** The request for a token, removing it: a token works once. Unknown or expired: undefined. */
  consume(token: string): StreamRequest | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    this.entries.delete(token);
    return e.expires > this.now() ? e.req : undefined;
  }

  /** Whether a token is live, without using it. */
  has(token: string): boolean {
    const e = this.entries.get(token);
    return !!e && e.expires > this.now();
  }

  get size(): number {
    return this.entries.size;
  }

  private purge(): void {
    const now = this.now();
    for (const [t, e] of this.entries) if (e.expires <= now) this.entries.delete(t);
  }
}
