// The image service: the store of pulled images (content + snapshots + metadata) and the
// operations pkg/cri and the container module use.
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/log.js';
import { Trash } from '../sys/trash.js';
import type { Store } from '../store/store.js';
import { FailedPreconditionError, NotFoundError } from '../errors/errors.js';
import { PullActivity } from './activity.js';
import { ContentStore, type BlobOpener } from './content.js';
import { ImageDb, type ImageRow } from './db.js';
import type { Descriptor, ImageConfigDoc } from './manifest.js';
import { buildSnapshot, pull } from './pull.js';
import { looksLikeId, parseReference, repoName } from './reference.js';
import type { RegistryConfig } from './registry.js';
import type { ContainerImageView, ImageFsUsage, ImageRecord, ImageService, OciImageConfig, PullProgressListener, RegistryAuth } from './types.js';
import { diskUsage } from './usage.js';

/** Lease key of a whole image (pull leases are digests and chain IDs). */
const imageLeaseKey = (imageId: string): string => `image:${imageId}`;

export interface ImageServiceOptions {
  /** berth's root: images live in `<root>/images`, writable layers in `<root>/containers`. */
  root: string;
  store: Store;
  log: Logger;
  registry: RegistryConfig;
  maxConcurrentDownloads: number;
  /** A download with no byte for this long fails (0 disables). */
  pullProgressTimeoutMs?: number;
  /** Pull metrics, if any. */
  onPullBytes?: (n: number) => void;
}

/** What lookups and records of one image set (ImageDb's generation) gave; a lookup's '' is a miss. */
interface ImageMemo {
  generation: number;
  records: Map<string, ImageRecord>;
  lookups: Map<string, string>;
}

const MAX_KEPT_LOOKUPS = 1024;

export class ImageServiceImpl implements ImageService {
  readonly imagesRoot: string;
  readonly snapshotsDir: string;
  /** Snapshot trees being deleted in the background, out of the snapshots directory. */
  readonly trash: Trash;
  readonly content: ContentStore;
  readonly db: ImageDb;
  readonly log: Logger;
  private readonly leases = new Map<string, number>();
  private readonly unpacking = new Map<string, Promise<void>>();
  private readonly configs = new Map<string, ImageConfigDoc>();
  private kept: ImageMemo = { generation: -1, records: new Map(), lookups: new Map() };
  private inUse: (imageId: string) => boolean = () => false;
  private writableCache: { at: number; usage: Promise<ImageFsUsage> } | undefined;
  readonly pulls = new PullActivity();

  constructor(private readonly opts: ImageServiceOptions) {
    this.imagesRoot = path.join(opts.root, 'images');
    this.snapshotsDir = path.join(this.imagesRoot, 'snapshots');
    this.trash = new Trash(path.join(this.imagesRoot, 'trash'), opts.log);
    this.content = new ContentStore(path.join(this.imagesRoot, 'content'), opts.pullProgressTimeoutMs ?? 0);
    if (opts.onPullBytes) this.content.onBytes = opts.onPullBytes;
    this.db = new ImageDb(opts.store);
    this.log = opts.log;
  }

  /** Creates directories and removes what a crash left half-done (ingest files, unrecorded snapshots). */
  async init(): Promise<void> {
    await this.content.init();
    await mkdir(this.snapshotsDir, { recursive: true });
    await mkdir(this.writableLayerRoot(), { recursive: true, mode: 0o711 });
    // Snapshots being deleted when berth stopped.
    await this.trash.reset();
    await this.collectGarbage();
  }

  registryConfig(): RegistryConfig {
    return this.opts.registry;
  }

  maxConcurrentDownloads(): number {
    return Math.max(1, this.opts.maxConcurrentDownloads);
  }

  writableLayerRoot(): string {
    return path.join(this.opts.root, 'containers');
  }

  snapshotPath(num: number): string {
    return path.join(this.snapshotsDir, String(num));
  }

  setInUseCheck(fn: (imageId: string) => boolean): void {
    this.inUse = fn;
  }

  lease(key: string): void {
    this.leases.set(key, (this.leases.get(key) ?? 0) + 1);
  }

  unlease(key: string): void {
    const n = (this.leases.get(key) ?? 1) - 1;
    if (n <= 0) this.leases.delete(key);
    else this.leases.set(key, n);
  }

  leaseImage(refOrId: string): { imageId: string; release(): void } {
    const imageId = this.get(refOrId).id;
    const key = imageLeaseKey(imageId);
    this.lease(key);
    let held = true;
    return { imageId, release: () => { if (held) this.unlease(key); held = false; } };
  }

  pull(ref: string, auth?: RegistryAuth, signal?: AbortSignal, progress?: PullProgressListener): Promise<ImageRecord> {
    return this.pulls.track(ref, (onLayer) => pull(this, ref, auth, signal, (l) => {
      onLayer(l);
      progress?.(l);
    }));
  }

  /** Makes the snapshot of `chainId` exist; concurrent pulls of one layer share the work. */
  async ensureSnapshot(chainId: string, parent: string | null, diffId: string, layer: Descriptor, opener: BlobOpener, signal?: AbortSignal): Promise<void> {
    for (let round = 0; ; round++) {
      if (this.db.snapshots.has(chainId)) return;
      let p = this.unpacking.get(chainId);
      const mine = !p;
      if (!p) {
        // Shared with later pulls of the same layer; it runs under the first caller's signal.
        p = buildSnapshot(this, chainId, parent, diffId, layer, opener, signal).finally(() => this.unpacking.delete(chainId));
        this.unpacking.set(chainId, p);
      }
      try {
        return await p;
      } catch (err) {
        // Another pull's unpack that pull gave up on: do it ourselves once.
        if (mine || round > 0 || signal?.aborted) throw err;
      }
    }
  }

  /** Waits for the downloads and unpacks of these digests / chain IDs to finish, whatever their outcome. */
  async settle(keys: string[]): Promise<void> {
    await this.content.settle(keys);
    await Promise.allSettled(keys.map((k) => this.unpacking.get(k)));
    await this.content.settle(keys);
  }

  commit(row: ImageRow, tag: string | undefined, digestRef: string | undefined): void {
    this.db.commitImage(row, tag, digestRef);
  }

  /**
   * The record of image `id`. The same object while no image or reference changes (kubelet asks
   * ImageStatus and ListImages again and again of an unchanged set): pkg/cri keeps its answer's
   * encoding per record object. Frozen, as it is shared.
   */
  record(id: string): ImageRecord | undefined {
    const memo = this.memo();
    let r = memo.records.get(id);
    if (r) return r;
    const row = this.db.images.get(id);
    if (!row) return undefined;
    const { tags, digests } = this.db.refsOf(id);
    r = Object.freeze({ id, repoTags: Object.freeze(tags) as string[], repoDigests: Object.freeze(digests) as string[], size: row.size, user: row.user, pinned: row.pinned });
    memo.records.set(id, r);
    return r;
  }

  /** The records and lookups of the current image set; emptied when it changes. */
  private memo(): ImageMemo {
    if (this.kept.generation !== this.db.generation) this.kept = { generation: this.db.generation, records: new Map(), lookups: new Map() };
    return this.kept;
  }

  list(): ImageRecord[] {
    return [...this.iterate()];
  }

  /** Every image, each record built as it is reached (one removed meanwhile is not yielded). */
  *iterate(): Generator<ImageRecord> {
    for (const id of this.db.images.keys()) {
      const r = this.record(id);
      if (r) yield r;
    }
  }

  /** The image `refOrId` names (ID, ID prefix, tag or digest reference), if present. */
  lookup(refOrId: string): ImageRecord | undefined {
    const { lookups } = this.memo();
    const hit = lookups.get(refOrId);
    if (hit !== undefined) return hit ? this.record(hit) : undefined;
    const r = this.resolveRef(refOrId);
    // Bounded: names that miss are kept too, and a client can make up any number of them.
    if (lookups.size >= MAX_KEPT_LOOKUPS) lookups.clear();
    lookups.set(refOrId, r?.id ?? '');
    return r;
  }

  private resolveRef(refOrId: string): ImageRecord | undefined {
    const s = refOrId.trim();
    if (!s) return undefined;
    if (this.db.images.has(s)) return this.record(s);
    if (/^[a-f0-9]{64}$/.test(s) && this.db.images.has(`sha256:${s}`)) return this.record(`sha256:${s}`);
    try {
      const ref = parseReference(s);
      const key = ref.digest ? `${repoName(ref)}@${ref.digest}` : `${repoName(ref)}:${ref.tag}`;
      const hit = this.db.refs.get(key);
      if (hit) return this.record(hit.imageId);
      // `name@<config digest>` also names the image (crictl does this with IDs).
      if (ref.digest && this.db.images.has(ref.digest)) return this.record(ref.digest);
    } catch {
      // not a reference; maybe an ID prefix
    }
    if (looksLikeId(s)) {
      const prefix = s.startsWith('sha256:') ? s : `sha256:${s}`;
      const ids = [...this.db.images.keys()].filter((id) => id.startsWith(prefix));
      if (ids.length === 1) return this.record(ids[0]!);
    }
    return undefined;
  }

  get(refOrId: string): ImageRecord {
    const r = this.lookup(refOrId);
    if (!r) throw new NotFoundError(`image "${refOrId}" not found`);
    return r;
  }

  async configOf(id: string): Promise<ImageConfigDoc> {
    let c = this.configs.get(id);
    if (!c) {
      const row = this.db.images.get(id);
      if (!row) throw new NotFoundError(`image "${id}" not found`);
      c = JSON.parse((await this.content.read(id)).toString('utf8')) as ImageConfigDoc;
      this.configs.set(id, c);
    }
    return c;
  }

  async containerView(refOrId: string): Promise<ContainerImageView> {
    const image = this.get(refOrId);
    const row = this.db.images.get(image.id)!;
    const doc = await this.configOf(image.id);
    const lowerdirs = row.chain.map((c) => {
      const s = this.db.snapshots.get(c);
      if (!s) throw new NotFoundError(`image "${refOrId}": snapshot ${c} is missing`);
      return this.snapshotPath(s.num);
    }).reverse();
    return { image, config: (doc.config ?? {}) as OciImageConfig, lowerdirs };
  }

  /** Manifest, config and layers as JSON for verbose ImageStatus. */
  async verboseInfo(id: string): Promise<Record<string, unknown>> {
    const row = this.db.images.get(id)!;
    const manifest = JSON.parse((await this.content.read(row.manifestDigest)).toString('utf8')) as unknown;
    const config = await this.configOf(id);
    const layers = row.layers.map((digest, i) => {
      const s = this.db.snapshots.get(row.chain[i]!);
      return { digest, diffId: s?.diffId, chainId: row.chain[i], snapshot: s ? this.snapshotPath(s.num) : null, unpackedBytes: s?.bytes };
    });
    return { id, manifestDigest: row.manifestDigest, manifest, config, layers };
  }

  /** Removes an image and its references; unknown images are fine; images in use are refused. */
  async remove(refOrId: string): Promise<void> {
    const img = this.lookup(refOrId);
    if (!img) return;
    if (this.inUse(img.id)) throw new FailedPreconditionError(`image "${refOrId}" (${img.id}) is in use by a container`);
    if (this.leases.has(imageLeaseKey(img.id))) throw new FailedPreconditionError(`image "${refOrId}" (${img.id}) is in use by a CreateContainer in progress`);
    this.db.removeImage(img.id);
    this.configs.delete(img.id);
    await this.collectGarbage();
  }

  /**
   * Removes snapshots no image uses, blobs no image references and stray directories, except
   * what a running pull holds a lease on.
   */
  async collectGarbage(): Promise<void> {
    const dead = [...this.db.snapshots.values()].filter((s) => s.refs <= 0 && !this.leases.has(s.chainId) && !this.unpacking.has(s.chainId));
    this.db.deleteSnapshots(dead.map((s) => s.chainId));
    for (const s of dead) await this.discard(this.snapshotPath(s.num));
    const liveDirs = new Set([...this.db.snapshots.values()].map((s) => String(s.num)));
    for (const name of await readdir(this.snapshotsDir).catch(() => [] as string[])) {
      // While an unpack runs, a directory not yet recorded may be its `.tmp-*` or its snapshot
      // renamed into place a moment before its row is written: strays wait for a quiet moment
      // (and berth's start, when nothing runs).
      if (liveDirs.has(name) || this.unpacking.size > 0) continue;
      await this.discard(path.join(this.snapshotsDir, name));
    }
    const wanted = new Set<string>();
    for (const img of this.db.images.values()) for (const d of [...img.manifestBlobs, ...img.layers]) wanted.add(d);
    for (const hex of await readdir(this.content.blobsDir).catch(() => [] as string[])) {
      const d = `sha256:${hex}`;
      if (!wanted.has(d) && !this.leases.has(d)) await this.content.delete(d);
    }
  }

  /** Snapshot trees go to the trash (one rename), so RemoveImage does not wait for thousands of unlinks. */
  private discard(dir: string): Promise<void> {
    return this.trash.discard(dir);
  }

  /** Waits for background deletions (tests, shutdown). */
  idle(): Promise<void> {
    return this.trash.idle();
  }

  /** Bytes and inodes of the image store, from the metadata (no tree walk). */
  async imageFsUsage(): Promise<ImageFsUsage> {
    let usedBytes = 0;
    let inodesUsed = 0;
    for (const s of this.db.snapshots.values()) {
      usedBytes += s.bytes;
      inodesUsed += s.inodes + 1;
    }
    for (const hex of await readdir(this.content.blobsDir).catch(() => [] as string[])) {
      try {
        usedBytes += await this.content.size(`sha256:${hex}`);
        inodesUsed++;
      } catch {
        // removed meanwhile
      }
    }
    return { mountpoint: this.imagesRoot, usedBytes, inodesUsed };
  }

  /** Writable layers: a walk of `<root>/containers`, cached for a few seconds (kubelet asks often). */
  writableFsUsage(): Promise<ImageFsUsage> {
    const now = Date.now();
    if (!this.writableCache || now - this.writableCache.at > 5000) {
      const root = this.writableLayerRoot();
      this.writableCache = { at: now, usage: diskUsage(root).then((u) => ({ mountpoint: root, ...u })) };
    }
    return this.writableCache.usage;
  }
}
