// The OCI distribution client: endpoints (mirrors, then the upstream), the /v2/ ping, Basic
// and Bearer auth, manifests and blob streams.
import { createHash } from 'node:crypto';
import { NotFoundError, UnauthenticatedError, UnavailableError, BerthError } from '../errors/errors.js';
import { basicHeader, credentialsApply, credentialsFrom, parseChallenges, type Challenge, type Credentials } from './auth.js';
import { drain, errorText, HttpError, readBody, sendWithRetry, type HttpOptions, type HttpResponse, type RetryPolicy } from './http.js';
import { ACCEPT, MAX_MANIFEST_BYTES } from './manifest.js';
import type { Reference } from './reference.js';
import type { RegistryAuth } from './types.js';

export interface RegistryConfig {
  insecure: string[];
  mirrors: Record<string, string[]>;
  /** Credentials per host from berth's config, for endpoints the pull request has none for. */
  auths?: Record<string, RegistryAuth>;
  timeoutMs?: number;
  retry?: RetryPolicy;
}

export interface Endpoint {
  /** `scheme://host[:port]`, plus a path prefix for mirrors that have one. */
  base: string;
  host: string;
  /** Repository path at this endpoint. */
  repo: string;
  mirror: boolean;
  /** Plain HTTP allowed / TLS not verified. */
  insecure: boolean;
  creds?: Credentials;
}

interface TokenEntry {
  token: string;
  expires: number;
}

function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/** One registry conversation for a pull: remembers the scheme and auth per endpoint. */
export class RegistryClient {
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  /** Scheme chosen per host after the ping (insecure hosts may speak plain HTTP). */
  private static schemes = new Map<string, string>();
  private static tokens = new Map<string, TokenEntry>();
  /** What each endpoint's /v2/ answered, kept a minute across pulls (a 401 refreshes it). */
  private static challenges = new Map<string, { ch: Challenge[]; at: number }>();

  constructor(private readonly cfg: RegistryConfig) {
    this.timeoutMs = cfg.timeoutMs ?? 30_000;
    this.retry = cfg.retry ?? { attempts: 4, baseDelayMs: 250 };
  }

  insecureHost(host: string): boolean {
    // Entries are host[:port] as in Docker's daemon.json; a scheme or a trailing slash is tolerated.
    return this.cfg.insecure.some((e) => e.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '') === host) || isLoopback(host);
  }

  /** The request's credentials when it has any (and they apply to `host`), else the config's for `host`. */
  private credentialsFor(auth: RegistryAuth | undefined, host: string): Credentials | undefined {
    if (auth) return credentialsApply(auth, host) ? credentialsFrom(auth) : undefined;
    for (const [server, a] of Object.entries(this.cfg.auths ?? {})) {
      if (credentialsApply({ ...a, serverAddress: server }, host)) return credentialsFrom(a);
    }
    return undefined;
  }

  /** Mirrors in their configured order, then the upstream registry. */
  endpoints(ref: Reference, auth?: RegistryAuth): Endpoint[] {
    const out: Endpoint[] = [];
    for (const m of this.cfg.mirrors[ref.domain] ?? []) {
      const u = new URL(m.includes('://') ? m : `https://${m}`);
      const base = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '').replace(/\/v2$/, '')}`;
      // As containerd does: credentials without a server_address go to every endpoint of the pull.
      const creds = this.credentialsFor(auth, u.host);
      out.push({ base, host: u.host, repo: ref.path, mirror: true, insecure: u.protocol === 'http:' || this.insecureHost(u.host), ...(creds ? { creds } : {}) });
    }
    const host = ref.domain === 'docker.io' ? 'registry-1.docker.io' : ref.domain;
    const creds = this.credentialsFor(auth, ref.domain);
    out.push({ base: '', host, repo: ref.path, mirror: false, insecure: this.insecureHost(host), ...(creds ? { creds } : {}) });
    return out;
  }

  /** Resolves the endpoint's base URL: https, or for insecure hosts http when TLS is not spoken. */
  async baseOf(ep: Endpoint, signal?: AbortSignal): Promise<string> {
    if (ep.base) return ep.base;
    const known = RegistryClient.schemes.get(ep.host);
    if (known) return `${known}://${ep.host}`;
    if (!ep.insecure) return `https://${ep.host}`;
    try {
      const res = await sendWithRetry(new URL(`https://${ep.host}/v2/`), { insecureTls: true, signal, timeoutMs: this.timeoutMs }, { attempts: 1, baseDelayMs: 0 });
      drain(res);
      RegistryClient.schemes.set(ep.host, 'https');
      return `https://${ep.host}`;
    } catch (err) {
      if (signal?.aborted) throw err;
      RegistryClient.schemes.set(ep.host, 'http');
      return `http://${ep.host}`;
    }
  }

  /** GET /v2/: learns the auth challenge of an endpoint. */
  private async ping(ep: Endpoint, base: string, signal?: AbortSignal): Promise<Challenge[]> {
    const have = RegistryClient.challenges.get(base);
    if (have && Date.now() - have.at < 60_000) return have.ch;
    const res = await this.raw(ep, new URL(`${base}/v2/`), {}, signal);
    let ch: Challenge[] = [];
    if (res.statusCode === 401) ch = parseChallenges(String(res.headers['www-authenticate'] ?? ''));
    drain(res);
    RegistryClient.challenges.set(base, { ch, at: Date.now() });
    return ch;
  }

  private async raw(ep: Endpoint, url: URL, headers: Record<string, string>, signal?: AbortSignal, extra: Pick<HttpOptions, 'method' | 'body' | 'lean'> = {}): Promise<HttpResponse> {
    try {
      return await sendWithRetry(url, { ...extra, headers, insecureTls: ep.insecure, signal, timeoutMs: this.timeoutMs }, this.retry);
    } catch (err) {
      // The scheme learnt for an insecure host may be stale (the registry changed): probe again next time.
      if (!ep.base) RegistryClient.schemes.delete(ep.host);
      if (err instanceof HttpError) throw new UnavailableError(`registry ${ep.host}: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** The Authorization header for `repo` at this endpoint, fetching a token when the registry wants one. */
  private async authorization(ep: Endpoint, challenges: Challenge[], signal?: AbortSignal, force = false): Promise<string | undefined> {
    const c = ep.creds;
    if (c?.registryToken) return `Bearer ${c.registryToken}`;
    const bearer = challenges.find((x) => x.scheme === 'bearer');
    if (bearer?.params.realm) {
      const scope = `repository:${ep.repo}:pull`;
      const key = `${bearer.params.realm}|${bearer.params.service ?? ''}|${scope}|${c?.username ?? ''}|${createHash('sha256').update(`${c?.password}|${c?.identityToken}`).digest('hex')}`;
      const hit = RegistryClient.tokens.get(key);
      if (hit && !force && hit.expires > Date.now()) return `Bearer ${hit.token}`;
      const tok = await this.fetchToken(ep, bearer, scope, signal);
      RegistryClient.tokens.set(key, tok);
      return `Bearer ${tok.token}`;
    }
    if (challenges.some((x) => x.scheme === 'basic') && c?.username) return basicHeader(c);
    return undefined;
  }

  private async fetchToken(ep: Endpoint, ch: Challenge, scope: string, signal?: AbortSignal): Promise<TokenEntry> {
    const realm = new URL(ch.params.realm!);
    const c = ep.creds;
    let res: HttpResponse;
    if (c?.identityToken) {
      // OAuth2 refresh-token grant, as Docker does with an identity token.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.identityToken, client_id: 'berth', scope });
      if (ch.params.service) form.set('service', ch.params.service);
      res = await this.raw(ep, realm, { 'content-type': 'application/x-www-form-urlencoded' }, signal, { method: 'POST', body: form.toString() });
    } else {
      if (ch.params.service) realm.searchParams.set('service', ch.params.service);
      realm.searchParams.set('scope', scope);
      if (c?.username) realm.searchParams.set('account', c.username);
      res = await this.raw(ep, realm, c?.username ? { authorization: basicHeader(c) } : {}, signal);
    }
    if (res.statusCode !== 200) {
      const why = await errorText(res);
      const msg = `token from ${realm.origin}${realm.pathname} for ${scope}: ${why}`;
      if (res.statusCode === 401 || res.statusCode === 403) throw new UnauthenticatedError(`unauthorized: ${msg}`);
      throw new UnavailableError(msg);
    }
    const doc = JSON.parse((await readBody(res, 1 << 20)).toString('utf8')) as { token?: string; access_token?: string; expires_in?: number };
    const token = doc.token ?? doc.access_token;
    if (!token) throw new UnavailableError(`token endpoint ${realm.origin} answered without a token`);
    const ttl = Math.max(10, doc.expires_in ?? 60);
    return { token, expires: Date.now() + (ttl - 5) * 1000 };
  }

  /**
   * An authenticated GET of `path` (below `/v2/<repo>/`). On 401 it re-reads the challenge,
   * fetches a fresh token once and retries; a second 401 is an unauthorized error.
   */
  async get(ep: Endpoint, path: string, headers: Record<string, string>, signal?: AbortSignal, o: Pick<HttpOptions, 'lean'> = {}): Promise<HttpResponse> {
    const base = await this.baseOf(ep, signal);
    let ch = await this.ping(ep, base, signal);
    const url = new URL(`${base}/v2/${ep.repo}/${path}`);
    for (let round = 0; ; round++) {
      const auth = await this.authorization(ep, ch, signal, round > 0);
      const res = await this.raw(ep, url, { ...headers, ...(auth ? { authorization: auth } : {}) }, signal, o);
      if (res.statusCode !== 401 && res.statusCode !== 403) return res;
      const fresh = parseChallenges(String(res.headers['www-authenticate'] ?? ''));
      const why = await errorText(res);
      if (round > 0 || !fresh.length || (res.statusCode === 403 && !ep.creds)) {
        const hint = ep.creds ? 'the credentials were refused' : 'no credentials given';
        throw new UnauthenticatedError(`unauthorized: ${ep.host} answered ${res.statusCode} for ${ep.repo} (${why}; ${hint})`);
      }
      ch = fresh;
      RegistryClient.challenges.set(base, { ch: fresh, at: Date.now() });
    }
  }

  /** Fetches a manifest or index by tag or digest. */
  async manifest(ep: Endpoint, reference: string, signal?: AbortSignal): Promise<{ body: Buffer; contentType: string; digest: string }> {
    const res = await this.get(ep, `manifests/${reference}`, { accept: ACCEPT }, signal);
    if (res.statusCode === 404) throw new NotFoundError(`manifest unknown: ${ep.host}/${ep.repo}:${reference} (${await errorText(res)})`);
    if (res.statusCode !== 200) throw this.statusError(ep, `manifest ${reference}`, res.statusCode ?? 0, await errorText(res));
    const declared = Number(res.headers['content-length'] ?? 0);
    if (declared > MAX_MANIFEST_BYTES) {
      drain(res);
      throw new BerthError('FailedPrecondition', `manifest ${reference} is ${declared} bytes, larger than the 4 MiB limit`);
    }
    let body: Buffer;
    try {
      body = await readBody(res, MAX_MANIFEST_BYTES);
    } catch (err) {
      if (err instanceof HttpError && !err.retryable) throw new BerthError('FailedPrecondition', `manifest ${reference}: larger than the 4 MiB limit`);
      throw new UnavailableError(`registry ${ep.host}: manifest ${reference}: ${(err as Error).message}`);
    }
    const digest = 'sha256:' + createHash('sha256').update(body).digest('hex');
    return { body, contentType: String(res.headers['content-type'] ?? ''), digest };
  }

  /** Opens a blob stream from `offset` (status 206 when the registry honoured the range). */
  async blob(ep: Endpoint, digest: string, offset: number, signal?: AbortSignal): Promise<HttpResponse> {
    const res = await this.get(ep, `blobs/${digest}`, offset > 0 ? { range: `bytes=${offset}-` } : {}, signal, { lean: true });
    if (res.statusCode === 200 || res.statusCode === 206) return res;
    const why = await errorText(res);
    if (res.statusCode === 404) throw new NotFoundError(`blob unknown: ${ep.host}/${ep.repo}@${digest} (${why})`);
    throw this.statusError(ep, `blob ${digest}`, res.statusCode ?? 0, why);
  }

  private statusError(ep: Endpoint, what: string, status: number, why: string): BerthError {
    if (status >= 500 || status === 429) return new UnavailableError(`registry ${ep.host}: ${what}: ${why}`);
    return new BerthError('FailedPrecondition', `registry ${ep.host}: ${what}: HTTP ${status}: ${why}`);
  }
}
