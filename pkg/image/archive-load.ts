// `berth load`: images from an OCI image layout tar (index.json) or a `docker save` tar
// (manifest.json, either form: `<id>/layer.tar` + `<id>.json`, or paths into blobs/). Every
// blob is checked against the digest that names it, configs against the image ID, layers
// against the config's diff IDs as they unpack; then blobs move into the content store and
// layers unpack through the same snapshot path as a pull.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { BerthError, errorMessage, FailedPreconditionError, InvalidArgumentError } from '../errors/errors.js';
import type { BlobOpener } from './content.js';
import { DigestMismatchError } from './content.js';
import { MEDIA, parseConfig, parseManifest, selectPlatform, type Descriptor, type ImageManifest } from './manifest.js';
import { chainIds, imageRowOf } from './pull.js';
import { formatReference, parseReference, repoName } from './reference.js';
import { StagedArchive, type StagedFile } from './archive-read.js';
import type { ImageServiceImpl } from './service.js';

interface Plan {
  manifest: ImageManifest;
  manifestDigest: string;
  /** Manifest and index blobs besides the config, with their staged files (or bytes made here). */
  manifestBlobs: { digest: string; file?: StagedFile; bytes?: Buffer }[];
  config: StagedFile;
  layers: StagedFile[];
  tags: string[];
}

interface DockerEntry {
  Config?: string;
  RepoTags?: string[] | null;
  Layers?: string[];
}

const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';

/** A full reference for a tag the archive names, or undefined for a bare tag or garbage. */
function normalizeTag(name: string | undefined): string | undefined {
  if (!name || !/[/:]/.test(name)) return undefined;
  try {
    const ref = parseReference(name);
    return ref.digest ? undefined : formatReference(ref);
  } catch {
    return undefined;
  }
}

/** The docker manifest.json tags of the image with this config digest. */
async function dockerTags(a: StagedArchive, configDigest: string): Promise<string[]> {
  if (!a.has('manifest.json')) return [];
  const entries = await a.json<DockerEntry[]>('manifest.json');
  return entries.filter((e) => e.Config && a.get(e.Config)?.digest === configDigest).flatMap((e) => (e.RepoTags ?? []).map(normalizeTag).filter((t): t is string => !!t));
}

async function ociPlans(a: StagedArchive): Promise<Plan[]> {
  const index = parseManifest(await a.bytes(a.need('index.json', 'file')), MEDIA.ociIndex);
  if (index.kind !== 'index') throw new InvalidArgumentError('image archive: index.json is not an image index');
  const plans: Plan[] = [];
  for (const top of index.manifests) {
    const blobs: Plan['manifestBlobs'] = [];
    let desc: Descriptor = top;
    let doc = parseManifest(await a.bytes(a.blob(desc.digest, desc.size)), desc.mediaType);
    while (doc.kind === 'index') {
      blobs.push({ digest: desc.digest, file: a.blob(desc.digest) });
      desc = selectPlatform(doc);
      doc = parseManifest(await a.bytes(a.blob(desc.digest, desc.size)), desc.mediaType);
      if (blobs.length > 4) throw new InvalidArgumentError('image archive: indexes nested too deep');
    }
    blobs.push({ digest: desc.digest, file: a.blob(desc.digest) });
    const config = a.blob(doc.config.digest, doc.config.size);
    const tag = normalizeTag(top.annotations?.['io.containerd.image.name']) ?? normalizeTag(top.annotations?.['org.opencontainers.image.ref.name']);
    const tags = [...new Set([...(tag ? [tag] : []), ...(await dockerTags(a, config.digest))])];
    const layers = doc.layers.map((l) => a.blob(l.digest, l.size));
    const same = plans.find((p) => p.manifestDigest === desc.digest);
    if (same) same.tags = [...new Set([...same.tags, ...tags])];
    else plans.push({ manifest: doc, manifestDigest: desc.digest, manifestBlobs: blobs, config, layers, tags });
  }
  return plans;
}

async function magicMediaType(f: StagedFile): Promise<string> {
  const fh = await open(f.path, 'r');
  const b = Buffer.alloc(4);
  try {
    await fh.read(b, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (b[0] === 0x1f && b[1] === 0x8b) return 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  if (b.readUInt32LE(0) === 0xfd2fb528) return 'application/vnd.oci.image.layer.v1.tar+zstd';
  return DOCKER_LAYER_TAR;
}

/** A file named by its digest (`<hex>.json`, `<hex>.tar`, blobs/sha256/<hex>) must hash to it. */
function checkNamed(name: string, f: StagedFile): void {
  const hex = /(?:^|\/)([a-f0-9]{64})(?:\.json|\.tar)?$/.exec(name)?.[1];
  if (hex && !/\/layer\.tar$/.test(name) && f.digest !== `sha256:${hex}`) throw new DigestMismatchError(`image archive: ${name} hashes to ${f.digest}; it is corrupt`);
}

/** docker save's manifest.json: a docker manifest is made for each image from its files. */
async function dockerPlans(a: StagedArchive): Promise<Plan[]> {
  const entries = await a.json<DockerEntry[]>('manifest.json');
  if (!Array.isArray(entries) || !entries.length) throw new InvalidArgumentError('image archive: manifest.json lists no images');
  const plans: Plan[] = [];
  for (const e of entries) {
    if (!e.Config || !Array.isArray(e.Layers)) throw new InvalidArgumentError('image archive: a manifest.json entry lacks Config or Layers');
    const config = a.need(e.Config, 'config');
    checkNamed(e.Config, config);
    const layers = e.Layers.map((l) => {
      const f = a.need(l, 'layer');
      checkNamed(l, f);
      return f;
    });
    const layerDescs = await Promise.all(layers.map(async (f) => ({ mediaType: await magicMediaType(f), digest: f.digest, size: f.size })));
    const manifest: ImageManifest = { kind: 'manifest', mediaType: MEDIA.dockerManifest, config: { mediaType: MEDIA.dockerConfig, digest: config.digest, size: config.size }, layers: layerDescs };
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: manifest.mediaType, config: manifest.config, layers: layerDescs }));
    const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    const tags = (e.RepoTags ?? []).map(normalizeTag).filter((t): t is string => !!t);
    plans.push({ manifest, manifestDigest: digest, manifestBlobs: [{ digest, bytes }], config, layers, tags });
  }
  return plans;
}

const fromArchive: BlobOpener = async () => {
  throw new FailedPreconditionError('image archive: a layer blob went missing from the content store');
};

/** An imported image and the names the archive gave it. */
export interface LoadedImage {
  id: string;
  tags: string[];
}

async function install(svc: ImageServiceImpl, plan: Plan, lease: (k: string) => void, signal?: AbortSignal): Promise<LoadedImage> {
  for (const b of plan.manifestBlobs) {
    lease(b.digest);
    if (b.file) await svc.content.adopt(b.digest, b.file.path, b.file.size);
    else await svc.content.put(b.digest, b.bytes!);
  }
  for (const f of [plan.config, ...plan.layers]) {
    lease(f.digest);
    await svc.content.adopt(f.digest, f.path, f.size);
  }
  const config = parseConfig(await svc.content.read(plan.config.digest), plan.layers.length);
  if (config.os && config.os !== 'linux') throw new FailedPreconditionError(`image archive: image ${plan.config.digest} is for ${config.os}, not linux`);
  const diffIds = config.rootfs!.diff_ids!;
  const chain = chainIds(diffIds);
  for (const c of chain) lease(c);
  for (const [i, layer] of plan.manifest.layers.entries()) {
    await svc.ensureSnapshot(chain[i]!, i > 0 ? chain[i - 1]! : null, diffIds[i]!, layer, fromArchive, signal);
  }
  const row = imageRowOf(plan.manifest, plan.manifestDigest, plan.manifestBlobs.map((b) => b.digest), chain, config);
  if (!plan.tags.length) svc.commit(row, undefined, undefined);
  for (const t of plan.tags) svc.commit(row, t, `${repoName(parseReference(t))}@${plan.manifestDigest}`);
  svc.log.info({ id: row.id, tags: plan.tags, layers: chain.length }, 'image loaded from an archive');
  return { id: row.id, tags: plan.tags };
}

/** Imports every image of the archive; nothing of a failed load stays behind. */
export async function loadArchive(svc: ImageServiceImpl, source: AsyncIterable<Buffer>, signal?: AbortSignal): Promise<LoadedImage[]> {
  const archive = await StagedArchive.read(source, svc.content.ingestDir, signal);
  const leased: string[] = [];
  const lease = (k: string) => {
    svc.lease(k);
    leased.push(k);
  };
  let ok = false;
  try {
    let plans: Plan[];
    if (archive.has('index.json')) plans = await ociPlans(archive);
    else if (archive.has('manifest.json')) plans = await dockerPlans(archive);
    else throw new InvalidArgumentError('image archive: neither index.json (OCI layout) nor manifest.json (docker save) is in it');
    const out: LoadedImage[] = [];
    for (const p of plans) out.push(await install(svc, p, lease, signal));
    ok = true;
    return out;
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw new InvalidArgumentError(`image archive: ${errorMessage(err)}`, { cause: err });
  } finally {
    await archive.remove();
    for (const k of leased) svc.unlease(k);
    if (!ok) await svc.collectGarbage().catch((e: unknown) => svc.log.warn({ err: errorMessage(e) }, 'image garbage collection failed'));
  }
}
