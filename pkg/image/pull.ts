// One pull: resolve the reference on the mirrors then the upstream, pick the platform, fetch the
// config, then download and unpack the layers in parallel (each into its own snapshot), and
// record the image. A failed pull leaves no ingest file, half snapshot or image behind.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { BerthError, errorMessage, InvalidArgumentError } from '../errors/errors.js';
import type { ImageRow } from './db.js';
import { parseConfig, parseManifest, selectPlatform, type Descriptor, type ImageConfigDoc, type ImageManifest } from './manifest.js';
import { formatReference, parseReference, repoName, type Reference } from './reference.js';
import { RegistryClient, type Endpoint } from './registry.js';
import type { ImageServiceImpl } from './service.js';
import { LayerProgressReporter } from './progress.js';
import { DownloadSlots } from './slots.js';
import { settleAll } from '../sync/cleanup.js';
import type { PullProgressListener, RegistryAuth } from './types.js';
import { unpackBlobFile, unpackStream, type UnpackStats } from './unpack.js';

const MAX_CONFIG_BYTES = 16 << 20;

export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev ? 'sha256:' + createHash('sha256').update(`${prev} ${d}`).digest('hex') : d);
  }
  return out;
}

function wrap(ref: string, err: unknown): Error {
  const msg = `pull ${ref}: ${errorMessage(err)}`;
  if (err instanceof BerthError) return new BerthError(err.kind, msg, { cause: err });
  if ((err as Error)?.name === 'AbortError') return new BerthError('Unavailable', `pull ${ref}: cancelled`, { cause: err });
  return new BerthError('Internal', msg, { cause: err });
}

interface Resolved {
  ep: Endpoint;
  client: RegistryClient;
  manifest: ImageManifest;
  manifestDigest: string;
  /** What the reference resolved to (index or manifest): the repo digest. */
  topDigest: string;
  /** The manifest (and index) blobs fsynced and in place; awaited before the image is committed. */
  stored: Promise<unknown>;
}

async function resolve(svc: ImageServiceImpl, ref: Reference, auth: RegistryAuth | undefined, signal?: AbortSignal): Promise<Resolved> {
  const client = new RegistryClient(svc.registryConfig());
  const eps = client.endpoints(ref, auth);
  const errors: { ep: Endpoint; err: BerthError }[] = [];
  for (const ep of eps) {
    try {
      const want = ref.digest ?? ref.tag!;
      const top = await client.manifest(ep, want, signal);
      if (ref.digest && top.digest !== ref.digest) throw new BerthError('FailedPrecondition', `manifest from ${ep.host} hashes to ${top.digest}, not ${ref.digest}`);
      let doc = parseManifest(top.body, top.contentType);
      const blobs: [string, Buffer][] = [[top.digest, top.body]];
      let manifestDigest = top.digest;
      if (doc.kind === 'index') {
        const pick: Descriptor = selectPlatform(doc);
        const m = await client.manifest(ep, pick.digest, signal);
        if (m.digest !== pick.digest) throw new BerthError('FailedPrecondition', `manifest ${pick.digest} from ${ep.host} hashes to ${m.digest}`);
        doc = parseManifest(m.body, m.contentType);
        if (doc.kind !== 'manifest') throw new BerthError('FailedPrecondition', `index entry ${pick.digest} is itself an index`);
        blobs.push([m.digest, m.body]);
        manifestDigest = m.digest;
      }
      const stored = settleAll(blobs.map(([d, b]) => svc.content.put(d, b)));
      stored.catch(() => {}); // awaited by the pull before it commits or cleans up
      return { ep, client, manifest: doc, manifestDigest, topDigest: top.digest, stored };
    } catch (err) {
      if (signal?.aborted) throw err;
      errors.push({ ep, err: err instanceof BerthError ? err : new BerthError('FailedPrecondition', errorMessage(err), { cause: err }) });
      svc.log.warn({ endpoint: ep.base || ep.host, mirror: ep.mirror, err: errorMessage(err) }, 'image endpoint failed');
    }
  }
  if (errors.length === 1) throw errors[0]!.err;
  // Several endpoints failed: say what each said; "not found" anywhere is the telling answer.
  const kind = errors.find((e) => e.err.kind === 'NotFound')?.err.kind ?? errors.find((e) => e.err.kind === 'Unauthenticated')?.err.kind ?? errors[errors.length - 1]!.err.kind;
  throw new BerthError(kind, errors.map((e) => `${e.ep.mirror ? 'mirror ' + e.ep.base : e.ep.host}: ${e.err.message}`).join('; '));
}

export async function pull(svc: ImageServiceImpl, refStr: string, auth: RegistryAuth | undefined, signal?: AbortSignal, onProgress?: PullProgressListener) {
  const ref = parseReference(refStr.trim());
  const name = formatReference(ref);
  const leased: string[] = [];
  const lease = (k: string) => {
    svc.lease(k);
    leased.push(k);
  };
  // Aborted by the caller or by the first failing layer, so the other layers stop too.
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let ok = false;
  let progress: LayerProgressReporter | undefined;
  // Blob writes still being fsynced: awaited before the commit, and before a failed pull cleans up.
  const durable: Promise<unknown>[] = [];
  try {
    const r = await resolve(svc, ref, auth, ctrl.signal);
    lease(r.topDigest);
    lease(r.manifestDigest);
    durable.push(r.stored);
    const { ep, client, manifest } = r;
    const opener = (d: string, what: string) => async (offset: number, sig: AbortSignal) => {
      const res = await client.blob(ep, d, offset, sig);
      return { stream: res, resumed: res.statusCode === 206, source: `${what} ${d} from ${await client.baseOf(ep, sig)}` };
    };
    // The config is read into memory: a manifest must not make berth swallow gigabytes.
    if (manifest.config.size > MAX_CONFIG_BYTES) {
      throw new BerthError('FailedPrecondition', `image config of ${manifest.config.size} bytes is larger than the ${MAX_CONFIG_BYTES >> 20} MiB limit`);
    }
    lease(manifest.config.digest);
    for (const l of manifest.layers) lease(l.digest);
    const cfg = svc.content.fetchBytes(manifest.config.digest, manifest.config.size, opener(manifest.config.digest, 'config'), ctrl.signal);
    durable.push(cfg.stored);
    const configBytes = await cfg.bytes;
    const config = parseConfig(configBytes, manifest.layers.length);
    if (config.os && config.os !== 'linux') throw new BerthError('FailedPrecondition', `image is for ${config.os}, not linux`);
    const diffIds = config.rootfs!.diff_ids!;
    const chain = chainIds(diffIds);
    for (const c of chain) lease(c);
    if (onProgress) progress = new LayerProgressReporter(svc, manifest.layers, chain, onProgress);
    // Every layer starts at once; the slots bound only the bodies streaming at a time.
    const slots = new DownloadSlots(svc.maxConcurrentDownloads());
    let failed: unknown;
    await Promise.allSettled(manifest.layers.map(async (layer, i) => {
      try {
        await progress?.start(i);
        await svc.ensureSnapshot(chain[i]!, i > 0 ? chain[i - 1]! : null, diffIds[i]!, layer, slots.gate(opener(layer.digest, 'layer')), ctrl.signal);
        progress?.finish(i);
      } catch (err) {
        failed ??= err; // the first failure; the others are mostly the abort it caused
        ctrl.abort(err);
      }
    }));
    if (failed !== undefined) throw failed;
    await settleAll(durable);
    const row = imageRowOf(manifest, r.manifestDigest, [r.topDigest, r.manifestDigest], chain, config);
    const tag = ref.tag && !ref.digest ? `${repoName(ref)}:${ref.tag}` : undefined;
    svc.commit(row, tag, `${repoName(ref)}@${r.topDigest}`);
    svc.log.info({ image: name, id: row.id, layers: chain.length }, 'image pulled');
    ok = true;
    return svc.record(row.id)!;
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    throw wrap(name, err);
  } finally {
    progress?.close();
    signal?.removeEventListener('abort', onAbort);
    if (!ok) {
      ctrl.abort();
      await Promise.allSettled(durable);
      await svc.settle(leased);
    }
    for (const c of leased) svc.unlease(c);
    // What this failed pull stored and no image uses (blobs, finished snapshots) goes again.
    if (!ok) await svc.collectGarbage().catch((e: unknown) => svc.log.warn({ err: errorMessage(e) }, 'image garbage collection failed'));
  }
}

/** The database row of an image whose blobs and snapshots are stored (a pull's or a load's). */
export function imageRowOf(manifest: ImageManifest, manifestDigest: string, manifestBlobs: string[], chain: string[], config: ImageConfigDoc): ImageRow {
  return {
    id: manifest.config.digest,
    manifestDigest,
    manifestBlobs: [...new Set([...manifestBlobs, manifest.config.digest])],
    layers: manifest.layers.map((l) => l.digest),
    chain,
    size: manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
    user: typeof config.config?.User === 'string' ? config.config.User : '',
    pinned: false,
    created: Date.now(),
  };
}

/** Downloads a layer blob and unpacks it into a new snapshot directory, committing it when verified. */
export async function buildSnapshot(
  svc: ImageServiceImpl,
  chainId: string,
  parent: string | null,
  diffId: string,
  layer: Descriptor,
  opener: Parameters<ImageServiceImpl['content']['fetch']>[2],
  signal?: AbortSignal,
): Promise<void> {
  const t0 = Date.now();
  const tmp = path.join(svc.snapshotsDir, `.tmp-${randomBytes(6).toString('hex')}`);
  await mkdir(tmp, { mode: 0o755 });
  try {
    // First try: unpack while the blob downloads. When the blob was already there, another pull
    // downloads it, or the stream broke, unpack again from the verified blob in the store.
    const tap = new PassThrough({ highWaterMark: 4 << 20 });
    const streamed = unpackStream(tap, layer.mediaType, tmp);
    streamed.catch(() => {});
    try {
      await svc.content.fetch(layer.digest, layer.size, opener, signal, tap);
    } catch (err) {
      await Promise.allSettled([streamed]);
      throw err;
    }
    const t1 = Date.now();
    let stats: UnpackStats | undefined = await streamed.catch(() => undefined);
    if (!stats || stats.diffId !== diffId) {
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { mode: 0o755 });
      try {
        stats = await unpackBlobFile(svc.content.blobPath(layer.digest), tmp);
      } catch (err) {
        throw new BerthError('FailedPrecondition', `layer ${layer.digest}: ${errorMessage(err)}`, { cause: err });
      }
    }
    if (stats.diffId !== diffId) {
      throw new BerthError('FailedPrecondition', `layer ${layer.digest}: uncompressed content hashes to ${stats.diffId}, the config says ${diffId}`);
    }
    svc.log.debug({ layer: layer.digest, bytes: layer.size, downloadMs: t1 - t0, unpackMs: Date.now() - t1 }, 'layer unpacked');
    const num = svc.db.allocNum();
    await rename(tmp, svc.snapshotPath(num));
    try {
      svc.db.addSnapshot({ chainId, num, parent, diffId, layerDigest: layer.digest, bytes: stats.bytes, inodes: stats.inodes, refs: 0 });
    } catch (err) {
      await rm(svc.snapshotPath(num), { recursive: true, force: true });
      throw err;
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

