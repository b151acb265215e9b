// Image metadata in the state database, mirrored in memory (kubelet lists images often):
// images (ID = config digest), references (repo tags and repo digests) and layer snapshots
// with reference counts. Every change is one transaction.
import type { Store } from '../store/store.js';

const MIGRATIONS = [
  `CREATE TABLE image_images (
     id TEXT PRIMARY KEY,
     manifest_digest TEXT NOT NULL,
     manifest_blobs TEXT NOT NULL,
     layers TEXT NOT NULL,
     chain TEXT NOT NULL,
     size INTEGER NOT NULL,
     user TEXT NOT NULL,
     pinned INTEGER NOT NULL DEFAULT 0,
     created INTEGER NOT NULL
   );
   CREATE TABLE image_refs (
     ref TEXT PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('tag', 'digest')),
     image_id TEXT NOT NULL REFERENCES image_images(id) ON DELETE CASCADE
   );
   CREATE INDEX image_refs_by_image ON image_refs(image_id);
   CREATE TABLE image_snapshots (
     chain_id TEXT PRIMARY KEY,
     num INTEGER NOT NULL UNIQUE,
     parent TEXT,
     diff_id TEXT NOT NULL,
     layer_digest TEXT NOT NULL,
     bytes INTEGER NOT NULL,
     inodes INTEGER NOT NULL,
     refs INTEGER NOT NULL
   );`,
];

export interface ImageRow {
  id: string;
  /** The manifest the image was last pulled with. */
  manifestDigest: string;
  /** Every blob besides layers this image holds in the content store (manifests, indexes, config). */
  manifestBlobs: string[];
  /** Layer blob digests, base first. */
  layers: string[];
  /** Chain IDs, base first. */
  chain: string[];
  size: number;
  user: string;
  pinned: boolean;
  created: number;
}

export interface SnapshotRow {
  chainId: string;
  num: number;
  parent: string | null;
  diffId: string;
  layerDigest: string;
  bytes: number;
  inodes: number;
  refs: number;
}

interface RawImage {
  id: string;
  manifest_digest: string;
  manifest_blobs: string;
  layers: string;
  chain: string;
  size: number;
  user: string;
  pinned: number;
  created: number;
}

interface RawSnapshot {
  chain_id: string;
  num: number;
  parent: string | null;
  diff_id: string;
  layer_digest: string;
  bytes: number;
  inodes: number;
  refs: number;
}

export class ImageDb {
  readonly images = new Map<string, ImageRow>();
  /** ref → image ID */
  readonly refs = new Map<string, { kind: 'tag' | 'digest'; imageId: string }>();
  readonly snapshots = new Map<string, SnapshotRow>();
  /** image ID → its refs, so listing is not a scan of every ref per image. */
  private readonly refsByImage = new Map<string, Set<string>>();
  private nextNum = 1;
  private gen = 0;

  /** Changes whenever an image or a reference is added, moved or removed (answers kept in memory check it). */
  get generation(): number {
    return this.gen;
  }

  private setRef(ref: string, kind: 'tag' | 'digest', imageId: string): void {
    const old = this.refs.get(ref);
    if (old) this.refsByImage.get(old.imageId)?.delete(ref);
    this.refs.set(ref, { kind, imageId });
    let set = this.refsByImage.get(imageId);
    if (!set) this.refsByImage.set(imageId, (set = new Set()));
    set.add(ref);
  }

  constructor(private readonly store: Store) {
    store.migrate('image', MIGRATIONS);
    for (const r of store.db.prepare('SELECT * FROM image_images').all() as RawImage[]) {
      this.images.set(r.id, {
        id: r.id, manifestDigest: r.manifest_digest, manifestBlobs: JSON.parse(r.manifest_blobs) as string[],
        layers: JSON.parse(r.layers) as string[], chain: JSON.parse(r.chain) as string[], size: r.size, user: r.user,
        pinned: !!r.pinned, created: r.created,
      });
    }
    for (const r of store.db.prepare('SELECT * FROM image_refs').all() as { ref: string; kind: 'tag' | 'digest'; image_id: string }[]) {
      this.setRef(r.ref, r.kind, r.image_id);
    }
    for (const r of store.db.prepare('SELECT * FROM image_snapshots').all() as RawSnapshot[]) {
      this.snapshots.set(r.chain_id, {
        chainId: r.chain_id, num: r.num, parent: r.parent, diffId: r.diff_id, layerDigest: r.layer_digest,
        bytes: r.bytes, inodes: r.inodes, refs: r.refs,
      });
      this.nextNum = Math.max(this.nextNum, r.num + 1);
    }
  }

  /** A fresh snapshot number (directory name); never reused within this process. */
  allocNum(): number {
    return this.nextNum++;
  }

  addSnapshot(s: SnapshotRow): void {
    this.store.db
      .prepare('INSERT INTO image_snapshots (chain_id, num, parent, diff_id, layer_digest, bytes, inodes, refs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(s.chainId, s.num, s.parent, s.diffId, s.layerDigest, s.bytes, s.inodes, s.refs);
    this.snapshots.set(s.chainId, { ...s });
  }

  refsOf(imageId: string): { tags: string[]; digests: string[] } {
    const tags: string[] = [];
    const digests: string[] = [];
    for (const ref of this.refsByImage.get(imageId) ?? []) (this.refs.get(ref)!.kind === 'tag' ? tags : digests).push(ref);
    return { tags: tags.sort(), digests: digests.sort() };
  }

  /**
   * Records a pulled image: inserts it (taking a reference on each of its snapshots) or updates
   * it, and points `tag` and `digestRef` at it. A tag that pointed elsewhere moves. (An image
   * loaded from an archive without a name has neither.)
   */
  commitImage(img: ImageRow, tag: string | undefined, digestRef: string | undefined): void {
    const db = this.store.db;
    const existing = this.images.get(img.id);
    const blobs = existing ? [...new Set([...existing.manifestBlobs, ...img.manifestBlobs])] : img.manifestBlobs;
    const row: ImageRow = { ...img, manifestBlobs: blobs, pinned: existing?.pinned ?? img.pinned, created: existing?.created ?? img.created };
    db.transaction(() => {
      db.prepare(
        `INSERT INTO image_images (id, manifest_digest, manifest_blobs, layers, chain, size, user, pinned, created)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest, manifest_blobs = excluded.manifest_blobs`,
      ).run(row.id, row.manifestDigest, JSON.stringify(row.manifestBlobs), JSON.stringify(row.layers), JSON.stringify(row.chain),
        row.size, row.user, row.pinned ? 1 : 0, row.created);
      if (!existing) {
        const inc = db.prepare('UPDATE image_snapshots SET refs = refs + 1 WHERE chain_id = ?');
        for (const c of new Set(row.chain)) inc.run(c);
      }
      const put = db.prepare('INSERT INTO image_refs (ref, kind, image_id) VALUES (?, ?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id, kind = excluded.kind');
      if (tag) put.run(tag, 'tag', row.id);
      if (digestRef) put.run(digestRef, 'digest', row.id);
    })();
    this.images.set(row.id, row);
    if (!existing) for (const c of new Set(row.chain)) this.snapshots.get(c)!.refs++;
    if (tag) this.setRef(tag, 'tag', row.id);
    if (digestRef) this.setRef(digestRef, 'digest', row.id);
    this.gen++;
  }

  /** Deletes an image and its references; returns the snapshots whose count fell to zero. */
  removeImage(id: string): SnapshotRow[] {
    const img = this.images.get(id);
    if (!img) return [];
    const db = this.store.db;
    db.transaction(() => {
      db.prepare('DELETE FROM image_refs WHERE image_id = ?').run(id);
      db.prepare('DELETE FROM image_images WHERE id = ?').run(id);
      const dec = db.prepare('UPDATE image_snapshots SET refs = refs - 1 WHERE chain_id = ?');
      for (const c of new Set(img.chain)) dec.run(c);
    })();
    this.images.delete(id);
    for (const ref of this.refsByImage.get(id) ?? []) this.refs.delete(ref);
    this.refsByImage.delete(id);
    this.gen++;
    const freed: SnapshotRow[] = [];
    for (const c of new Set(img.chain)) {
      const s = this.snapshots.get(c);
      if (s && --s.refs <= 0) freed.push(s);
    }
    return freed;
  }

  /** Forgets snapshot rows (their directories are removed by the caller). */
  deleteSnapshots(chainIds: string[]): void {
    const db = this.store.db;
    db.transaction(() => {
      const del = db.prepare('DELETE FROM image_snapshots WHERE chain_id = ? AND refs <= 0');
      for (const c of chainIds) del.run(c);
    })();
    for (const c of chainIds) if ((this.snapshots.get(c)?.refs ?? 1) <= 0) this.snapshots.delete(c);
  }
}
