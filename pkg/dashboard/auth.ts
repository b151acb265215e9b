// Who may read the dashboard. Without a token: loopback listeners only, and only requests that
// name the listener by a loopback host (a page on another site that rebinds its DNS name to
// 127.0.0.1 is refused). With a token: every request carries it, as `Authorization: Bearer` or
// as the session cookie the login form sets (an HMAC of the token, so the browser never keeps
// the token itself). Comparisons run in constant time.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { ConfigError, splitHostPort } from '../config/config.js';

export const COOKIE = 'berth_dashboard';

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Equal strings, in a time that does not depend on where they differ (nor on the secret's length). */
export function tokensEqual(given: string, want: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(want).digest();
  return timingSafeEqual(a, b) && want.length > 0;
}

/** Refuses (ConfigError) a listener on a non-loopback address without a token. */
export function checkListen(listen: string, token: string): void {
  const { host } = splitHostPort(listen, 'dashboard.listen');
  if (!token && !isLoopbackHost(host)) {
    throw new ConfigError(
      `dashboard.listen "${listen}" is not a loopback address: set dashboard.token or dashboard.token_file, or listen on 127.0.0.1`,
    );
  }
}

export type Verdict = 'ok' | 'login' | 'bad-host';

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export class Authorizer {
  private readonly session: string;

  /** @param token '' when none is configured. */
  constructor(private readonly token: string) {
    this.session = token ? createHmac('sha256', token).update('berth dashboard session').digest('base64url') : '';
  }

  get needsToken(): boolean {
    return this.token !== '';
  }

  /** The cookie value a successful login sets. */
  sessionCookie(): string {
    return `${COOKIE}=${this.session}; Path=/; HttpOnly; SameSite=Strict`;
  }

  /** Whether a submitted login token is the right one. */
  loginMatches(given: string): boolean {
    return this.needsToken && tokensEqual(given, this.token);
  }

  check(req: IncomingMessage): Verdict {
    if (!this.needsToken) {
      const host = req.headers.host ?? '';
      let name: string;
      try {
        name = splitHostPort(host, 'Host').host;
      } catch {
        name = host;
      }
      return isLoopbackHost(name) ? 'ok' : 'bad-host';
    }
    const auth = req.headers.authorization ?? '';
    if (/^Bearer /i.test(auth)) return tokensEqual(auth.slice(7).trim(), this.token) ? 'ok' : 'login';
    const cookie = cookieValue(req, COOKIE);
    return cookie !== undefined && tokensEqual(cookie, this.session) ? 'ok' : 'login';
  }
}
