// `berth save`: images from the content store as one tar that is both an OCI image layout
// (oci-layout, index.json, blobs/sha256/…) and what `docker load` reads (manifest.json with
// Config/RepoTags/Layers paths into blobs/, and the legacy `repositories`). Blobs are streamed
// from the store as they are; the images' blobs are leased until the tar is written.
import { createReadStream } from 'node:fs';
import { parseManifest } from './manifest.js';
import { parseReference, repoName } from './reference.js';
import type { ImageServiceImpl } from './service.js';
import { tarStream, type TarSource } from './tar-writer.js';

interface SavedImage {
  id: string;
  tags: string[];
  manifest: { digest: string; size: number; mediaType: string };
  layers: string[];
}

const OCI_LAYOUT = JSON.stringify({ imageLayoutVersion: '1.0.0' });

function blobName(digest: string): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

/** index.json: one entry per tag (containerd's and OCI's name annotations), or one untagged. */
function indexJson(images: SavedImage[]): string {
  const manifests = images.flatMap((img) => {
    const desc = { mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.size };
    if (!img.tags.length) return [desc];
    return img.tags.map((t) => ({ ...desc, annotations: { 'io.containerd.image.name': t, 'org.opencontainers.image.ref.name': parseReference(t).tag ?? 'latest' } }));
  });
  return JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests });
}

function dockerManifestJson(images: SavedImage[]): string {
  return JSON.stringify(images.map((img) => ({ Config: blobName(img.id), RepoTags: img.tags, Layers: img.layers.map(blobName) })));
}

function repositoriesJson(images: SavedImage[]): string {
  const repos: Record<string, Record<string, string>> = {};
  for (const img of images) {
    for (const t of img.tags) {
      const ref = parseReference(t);
      (repos[repoName(ref)] ??= {})[ref.tag ?? 'latest'] = img.id.slice('sha256:'.length);
    }
  }
  return JSON.stringify(repos);
}

async function describe(svc: ImageServiceImpl, refOrId: string): Promise<SavedImage> {
  const record = svc.get(refOrId);
  const row = svc.db.images.get(record.id)!;
  const body = await svc.content.read(row.manifestDigest);
  const mediaType = parseManifest(body, 'application/vnd.oci.image.manifest.v1+json').mediaType;
  return { id: record.id, tags: record.repoTags, manifest: { digest: row.manifestDigest, size: body.length, mediaType }, layers: row.layers };
}

/**
 * The archive of these images (references, IDs or ID prefixes) as tar chunks. Unknown images
 * are refused (NotFoundError) before the first byte.
 */
export async function saveArchive(svc: ImageServiceImpl, refs: string[]): Promise<AsyncGenerator<Buffer>> {
  const images: SavedImage[] = [];
  for (const r of refs) {
    const img = await describe(svc, r);
    if (!images.some((i) => i.id === img.id)) images.push(img);
  }
  const blobs = [...new Set(images.flatMap((i) => [i.manifest.digest, i.id, ...i.layers]))];
  const text = (name: string, s: string): TarSource => ({ name, type: 'file', size: Buffer.byteLength(s), body: Buffer.from(s) });
  return (async function* () {
    // Leased while the tar is written, so a removal meanwhile cannot delete a blob under it.
    for (const b of blobs) svc.lease(b);
    try {
      const sizes = await Promise.all(blobs.map((b) => svc.content.size(b)));
      yield* tarStream([
        text('oci-layout', OCI_LAYOUT),
        text('index.json', indexJson(images)),
        text('manifest.json', dockerManifestJson(images)),
        text('repositories', repositoriesJson(images)),
        { name: 'blobs', type: 'dir' },
        { name: 'blobs/sha256', type: 'dir' },
        ...blobs.map((b, i): TarSource => ({ name: blobName(b), type: 'file', size: sizes[i]!, body: () => createReadStream(svc.content.blobPath(b), { highWaterMark: 1 << 20 }) })),
      ]);
    } finally {
      for (const b of blobs) svc.unlease(b);
    }
  })();
}
