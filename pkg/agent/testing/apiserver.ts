// A small stand-in for kube-apiserver, for tests of `berth agent` with the real
// @kubernetes/client-node on the other side (no kube-apiserver runs on these machines). It
// serves only the resources in resources.ts, over HTTPS on loopback (a self-signed certificate
// made with openssl) with one bearer token, and follows the real API's semantics for what it serves: Status errors (404, 409
// AlreadyExists/Conflict, 422 Invalid, 410 Expired), resourceVersion on every write and list,
// no-op writes that keep the resourceVersion, optimistic concurrency on update, merge and
// (map-only) strategic merge patches, field and label selectors, and watches from a
// resourceVersion with synthetic ADDED events when none is given. It does not do
// authorization (RBAC), admission, defaulting, bookmarks, protobuf or server-side apply.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { mergePatch, PatchError, strategicMergePatch, type Json } from './patch.js';
import { basePath, metadataErrors, RESOURCES, type Resource, type Verb } from './resources.js';
import { ObjectStore, type KubeObject, type Watcher } from './store.js';
import { parseSelectors, SelectorError } from './selectors.js';

class ApiError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string) {
    super(message);
  }
}

interface Route {
  resource: Resource;
  namespace?: string;
  name?: string;
}

function statusBody(code: number, reason: string, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function route(pathname: string): Route | undefined {
  for (const r of RESOURCES) {
    const base = basePath(r);
    if (!pathname.startsWith(`${base}/`)) continue;
    const parts = pathname.slice(base.length + 1).split('/').map(decodeURIComponent);
    if (r.namespaced && parts[0] === 'namespaces' && parts[2] === r.plural && parts.length <= 4) return { resource: r, namespace: parts[1], name: parts[3] };
    if (parts[0] === r.plural && parts.length <= 2 && (!r.namespaced || parts.length === 1)) return { resource: r, name: parts[1] };
  }
  return undefined;
}

async function readJson(req: http.IncomingMessage): Promise<KubeObject> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 3 * 1024 * 1024) throw new ApiError(413, 'RequestEntityTooLarge', 'request is too large');
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as KubeObject;
  } catch (err) {
    throw new ApiError(400, 'BadRequest', `the body of the request was in an unknown format: ${(err as Error).message}`);
  }
}

/** A self-signed certificate for 127.0.0.1 (the client trusts it as its CA). */
function selfSigned(): { cert: string; key: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-apiserver-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
      '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8'), key: readFileSync(path.join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export class TestApiServer {
  readonly store = new ObjectStore();
  readonly token = randomBytes(16).toString('hex');
  private readonly tls = selfSigned();
  private readonly server = https.createServer({ cert: this.tls.cert, key: this.tls.key }, (req, res) => void this.handle(req, res));
  private readonly streams = new Set<http.ServerResponse>();
  private readonly heldLists = new Map<string, { reached: () => void; gate: Promise<void> }>();
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A kubeconfig (YAML is a superset of JSON) for this server. */
  kubeconfig(): string {
    return JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'test',
      clusters: [{ name: 'test', cluster: { server: this.url, 'certificate-authority-data': Buffer.from(this.tls.cert).toString('base64') } }],
      users: [{ name: 'test', user: { token: this.token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
    });
  }

  /** The server's certificate, which is its own CA. */
  get caPem(): string {
    return this.tls.cert;
  }

  /** Watches currently open. */
  get watchCount(): number {
    return this.streams.size;
  }

  /** etcd compaction and a watch-cache restart: history dropped, every watch closed. */
  compactAndCloseWatches(): void {
    this.store.compact();
    for (const s of this.streams) s.end();
  }

  /**
   * Holds the next list of `plural` (the list is taken, its answer waits) until release():
   * a test's way to make one client list slowly, e.g. while re-listing after a 410.
   */
  holdNextList(plural: string): { reached: Promise<void>; release(): void } {
    let reached!: () => void;
    let release!: () => void;
    const r = new Promise<void>((resolve) => (reached = resolve));
    this.heldLists.set(plural, { reached, gate: new Promise<void>((resolve) => (release = resolve)) });
    return { reached: r, release };
  }

  async stop(): Promise<void> {
    for (const s of this.streams) s.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (code: number, body: object) => res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    try {
      if (req.headers.authorization !== `Bearer ${this.token}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      const url = new URL(req.url ?? '/', 'http://x');
      const rt = route(url.pathname);
      if (!rt) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      const watch = url.searchParams.get('watch');
      if (req.method === 'GET' && !rt.name && (watch === 'true' || watch === '1')) return this.watch(rt, url.searchParams, res);
      const [code, body] = await this.serve(req, rt, url.searchParams);
      const held = req.method === 'GET' && !rt.name ? this.heldLists.get(rt.resource.plural) : undefined;
      if (held) {
        this.heldLists.delete(rt.resource.plural);
        held.reached();
        await held.gate;
      }
      send(code, body);
    } catch (err) {
      if (err instanceof ApiError) send(err.code, statusBody(err.code, err.reason, err.message));
      else if (err instanceof PatchError) send(err.code, statusBody(err.code, err.reason, err.message));
      else if (err instanceof SelectorError) send(400, statusBody(400, 'BadRequest', err.message));
      else send(500, statusBody(500, 'InternalError', String(err)));
    }
  }

  private allow(r: Resource, verb: Verb): void {
    if (!r.verbs.includes(verb)) throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${verb} ${r.plural})`);
  }

  private notFound(rt: Route): ApiError {
    return new ApiError(404, 'NotFound', `${rt.resource.plural} "${rt.name}" not found`);
  }

  private async serve(req: http.IncomingMessage, rt: Route, q: URLSearchParams): Promise<[number, object]> {
    const { resource: r, namespace: ns, name } = rt;
    switch (req.method) {
      case 'GET': {
        if (name) {
          this.allow(r, 'get');
          const obj = this.store.get(r.plural, ns, name);
          if (!obj) throw this.notFound(rt);
          return [200, obj];
        }
        this.allow(r, 'list');
        const match = parseSelectors(q.get('fieldSelector') ?? '', q.get('labelSelector') ?? '');
        const items = this.store.list(r.plural, ns).filter(match);
        return [200, { kind: `${r.kind}List`, apiVersion: r.apiVersion, metadata: { resourceVersion: this.store.resourceVersion }, items }];
      }
      case 'POST':
        if (name) throw new ApiError(405, 'MethodNotAllowed', 'POST names no object');
        this.allow(r, 'create');
        return [201, this.create(r, ns, await readJson(req))];
      case 'PUT':
        if (!name) throw new ApiError(405, 'MethodNotAllowed', 'PUT needs an object name');
        this.allow(r, 'update');
        return [200, this.write(rt, await readJson(req), (_old, body) => body)];
      case 'PATCH': {
        if (!name) throw new ApiError(405, 'MethodNotAllowed', 'PATCH needs an object name');
        this.allow(r, 'patch');
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
        const apply = type === 'application/merge-patch+json' ? mergePatch : type === 'application/strategic-merge-patch+json' ? strategicMergePatch : undefined;
        if (!apply) throw new ApiError(415, 'UnsupportedMediaType', `the test API server does not implement patches of type "${type}"`);
        if (type === 'application/strategic-merge-patch+json' && r.apiVersion !== 'v1') {
          throw new ApiError(415, 'UnsupportedMediaType', 'strategic merge patch is not supported for this resource');
        }
        const patch = await readJson(req);
        return [200, this.write(rt, patch, (old, p) => apply(old as unknown as Json, p as unknown as Json) as unknown as KubeObject)];
      }
      case 'DELETE': {
        if (!name) throw new ApiError(405, 'MethodNotAllowed', 'DELETE needs an object name');
        this.allow(r, 'delete');
        const gone = this.store.delete(r.plural, ns, name);
        if (!gone) throw this.notFound(rt);
        return [200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: r.plural, uid: gone.metadata.uid } }];
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', `method ${req.method} not allowed`);
    }
  }

  private check(r: Resource, obj: KubeObject, old?: KubeObject): void {
    r.normalize?.(obj);
    const errs = [...metadataErrors(obj), ...(r.validate?.(obj, old) ?? [])];
    if (errs.length) throw new ApiError(422, 'Invalid', `${r.kind} "${obj.metadata.name}" is invalid: ${errs.join(', ')}`);
  }

  private create(r: Resource, ns: string | undefined, obj: KubeObject): KubeObject {
    obj.metadata ??= { name: '' };
    if (!obj.metadata.name && typeof obj.metadata.generateName === 'string') obj.metadata.name = `${obj.metadata.generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
    if (r.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== ns) throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      obj.metadata.namespace = ns;
    }
    delete obj.metadata.resourceVersion;
    Object.assign(obj, { kind: r.kind, apiVersion: r.apiVersion });
    this.check(r, obj);
    if (this.store.get(r.plural, ns, obj.metadata.name)) throw new ApiError(409, 'AlreadyExists', `${r.plural} "${obj.metadata.name}" already exists`);
    return this.store.put(r.plural, obj, 'ADDED');
  }

  /** Update or patch: optimistic concurrency on a given resourceVersion; a no-op keeps it. */
  private write(rt: Route, body: KubeObject, merge: (old: KubeObject, body: KubeObject) => KubeObject): KubeObject {
    const { resource: r, namespace: ns, name } = rt;
    const old = this.store.get(r.plural, ns, name!);
    if (!old) throw this.notFound(rt);
    const wantRv = body.metadata?.resourceVersion;
    if (wantRv && wantRv !== old.metadata.resourceVersion) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${r.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const next = merge(structuredClone(old), body);
    if (next.metadata?.name !== name) throw new ApiError(400, 'BadRequest', `the name of the object (${String(next.metadata?.name)}) does not match the name on the URL (${name})`);
    Object.assign(next.metadata, { namespace: old.metadata.namespace, uid: old.metadata.uid, creationTimestamp: old.metadata.creationTimestamp, resourceVersion: old.metadata.resourceVersion });
    if (!r.namespaced) delete next.metadata.namespace;
    Object.assign(next, { kind: r.kind, apiVersion: r.apiVersion });
    this.check(r, next, old);
    if (JSON.stringify(next) === JSON.stringify(old)) return old;
    return this.store.put(r.plural, next, 'MODIFIED');
  }

  private watch(rt: Route, q: URLSearchParams, res: http.ServerResponse): void {
    this.allow(rt.resource, 'watch');
    const inScope = parseSelectors(q.get('fieldSelector') ?? '', q.get('labelSelector') ?? '');
    const matches = (o: KubeObject) => (rt.namespace === undefined || o.metadata.namespace === rt.namespace) && inScope(o);
    // A watch ended by compactAndCloseWatches() or its timeout stays a watcher until 'close'.
    const line = (type: string, object: object) => !res.writableEnded && res.write(`${JSON.stringify({ type, object })}\n`);
    const rv = q.get('resourceVersion') ?? '';
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    if (rv === '' || rv === '0') {
      // "Start at most recent": the current state as synthetic ADDED events, then changes.
      for (const o of this.store.list(rt.resource.plural, rt.namespace).filter(matches)) line('ADDED', o);
    } else {
      const past = this.store.since(rt.resource.plural, Number(rv));
      if (!past) {
        line('ERROR', statusBody(410, 'Expired', `too old resource version: ${rv} (${this.store.compactedRevision})`));
        res.end();
        return;
      }
      for (const e of past) if (matches(e.object)) line(e.type, e.object);
    }
    const w: Watcher = { resource: rt.resource.plural, matches, send: (type, obj) => line(type, obj) };
    this.store.watchers.add(w);
    this.streams.add(res);
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.once('close', () => {
      clearTimeout(timer);
      this.store.watchers.delete(w);
      this.streams.delete(res);
    });
  }
}
