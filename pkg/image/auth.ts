// Registry authentication: `WWW-Authenticate` challenge parsing and the credentials a CRI
// AuthConfig carries. The token exchange itself lives in registry.ts (it needs the HTTP client).
import { InvalidArgumentError } from '../errors/errors.js';
import type { RegistryAuth } from './types.js';

export interface Challenge {
  /** Lower-case scheme: `basic` or `bearer` (others are kept but unused). */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 7235): one or more challenges, each a scheme followed
 * by comma-separated `key=value` or `key="quoted value"` parameters.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  while (i < s.length) {
    skipWs();
    while (i < s.length && (s[i] === ',' || s[i] === ' ')) i++;
    const scheme = token();
    if (!scheme) {
      i++;
      continue;
    }
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(ch);
    for (;;) {
      skipWs();
      const save = i;
      const key = token();
      skipWs();
      if (!key || s[i] !== '=') {
        // Not a parameter: the start of the next challenge.
        i = save;
        break;
      }
      i++; // '='
      skipWs();
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++; // closing quote
      } else {
        const start = i;
        while (i < s.length && s[i] !== ',' && s[i] !== ' ') i++;
        value = s.slice(start, i);
      }
      ch.params[key.toLowerCase()] = value;
      skipWs();
      if (s[i] === ',') {
        i++;
        continue;
      }
      break;
    }
  }
  return out;
}

export interface Credentials {
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
}

// A bearer token goes into the Authorization header as it is: only visible ASCII can be carried
// (Node refuses anything else when it sends the request, which looked like a network failure).
const HEADER_TOKEN_RE = /^[\x21-\x7e]+$/;

/**
 * Normalises a CRI AuthConfig: `auth` (base64 user:pass) fills username/password when those are
 * empty. A registry_token no header can carry is INVALID_ARGUMENT (username and password travel
 * base64-encoded, so any text works there).
 */
export function credentialsFrom(auth: RegistryAuth | undefined): Credentials | undefined {
  if (!auth) return undefined;
  if (auth.registryToken && !HEADER_TOKEN_RE.test(auth.registryToken)) {
    throw new InvalidArgumentError('auth.registry_token holds characters an HTTP header cannot carry (only visible ASCII)');
  }
  const c: Credentials = {};
  if (auth.username) c.username = auth.username;
  if (auth.password) c.password = auth.password;
  if (!c.username && auth.auth) {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      c.username = decoded.slice(0, colon);
      c.password = decoded.slice(colon + 1);
    }
  }
  if (auth.identityToken) c.identityToken = auth.identityToken;
  if (auth.registryToken) c.registryToken = auth.registryToken;
  return Object.keys(c).length ? c : undefined;
}

/** True when the AuthConfig's server_address (if any) names `host`. */
export function credentialsApply(auth: RegistryAuth | undefined, host: string): boolean {
  if (!auth?.serverAddress) return true;
  let sa = auth.serverAddress.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (sa === 'index.docker.io' || sa === 'registry-1.docker.io') sa = 'docker.io';
  const h = host === 'registry-1.docker.io' ? 'docker.io' : host;
  return sa === h;
}

export function basicHeader(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64');
}
