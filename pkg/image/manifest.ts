// Manifests and indexes (OCI and Docker schema 2): parsing, validation, platform choice.

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

/** What berth asks a registry for, in order of preference. */
export const ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

export const MAX_MANIFEST_BYTES = 4 << 20;

const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.diff.tar',
]);

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  urls?: string[];
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

function checkDescriptor(d: unknown, what: string): Descriptor {
  const o = d as Partial<Descriptor> | null;
  if (!o || typeof o !== 'object') throw new Error(`${what}: not an object`);
  if (typeof o.digest !== 'string' || !DIGEST.test(o.digest)) throw new Error(`${what}: unsupported or malformed digest ${JSON.stringify(o.digest)}`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw new Error(`${what}: malformed size`);
  if (typeof o.mediaType !== 'string') throw new Error(`${what}: no mediaType`);
  return o as Descriptor;
}

/**
 * Parses a manifest or index. `contentType` is the registry's Content-Type; the document's own
 * mediaType wins when present. Schema 1 and unknown types are refused with a clear message.
 */
export function parseManifest(body: Buffer, contentType: string): ImageManifest | ImageIndex {
  if (body.length > MAX_MANIFEST_BYTES) throw new Error(`manifest of ${body.length} bytes is larger than the 4 MiB limit`);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error('manifest is not valid JSON');
  }
  const ct = contentType.split(';')[0]!.trim();
  let mt = typeof doc.mediaType === 'string' ? doc.mediaType : ct;
  if (doc.schemaVersion === 1 || mt === MEDIA.dockerSchema1 || mt === MEDIA.dockerSchema1Signed) {
    throw new Error('Docker schema 1 manifests are not supported (deprecated format; re-push the image with a current client)');
  }
  if (doc.schemaVersion !== 2) throw new Error(`unsupported manifest schemaVersion ${JSON.stringify(doc.schemaVersion)}`);
  // OCI allows mediaType to be absent; infer it from the document's shape then.
  if (!mt || mt === 'application/json' || mt === 'application/octet-stream') {
    mt = Array.isArray(doc.manifests) ? MEDIA.ociIndex : MEDIA.ociManifest;
  }
  if (mt === MEDIA.ociIndex || mt === MEDIA.dockerList) {
    if (!Array.isArray(doc.manifests)) throw new Error('index has no manifests list');
    return { kind: 'index', mediaType: mt, manifests: doc.manifests.map((m, i) => checkDescriptor(m, `index entry ${i}`)) };
  }
  if (mt === MEDIA.ociManifest || mt === MEDIA.dockerManifest) {
    const config = checkDescriptor(doc.config, 'manifest config');
    if (!Array.isArray(doc.layers)) throw new Error('manifest has no layers list');
    const layers = doc.layers.map((l, i) => checkDescriptor(l, `layer ${i}`));
    for (const l of layers) {
      if (!LAYER_TYPES.has(l.mediaType)) throw new Error(`layer ${l.digest} has unsupported media type ${l.mediaType}`);
    }
    if (config.mediaType !== MEDIA.ociConfig && config.mediaType !== MEDIA.dockerConfig) {
      throw new Error(`manifest config has media type ${config.mediaType}, not a container image (an artifact?)`);
    }
    return { kind: 'manifest', mediaType: mt, config, layers };
  }
  throw new Error(`unsupported manifest media type "${mt}"`);
}

export interface PlatformWanted {
  os: string;
  architecture: string;
  variant?: string;
}

export const HOST_PLATFORM: PlatformWanted = { os: 'linux', architecture: 'amd64' };

/**
 * Picks the manifest for `want` from an index: exact os/arch, then the requested variant (or,
 * for amd64 with no variant asked, v1 or no variant before higher ones, as containerd does).
 */
export function selectPlatform(index: ImageIndex, want: PlatformWanted = HOST_PLATFORM): Descriptor {
  const candidates = index.manifests.filter(
    (m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture &&
      (m.mediaType === MEDIA.ociManifest || m.mediaType === MEDIA.dockerManifest || !m.mediaType),
  );
  const rank = (m: Descriptor): number => {
    const v = m.platform?.variant ?? '';
    if (want.variant) return v === want.variant ? 0 : v === '' ? 1 : 9;
    if (v === '' || v === 'v1') return 0;
    return 9;
  };
  const best = candidates.map((m) => ({ m, r: rank(m) })).filter((x) => x.r < 9).sort((a, b) => a.r - b.r)[0];
  if (!best) {
    const have = index.manifests.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? '/' + m.platform.variant : ''}` : '?'));
    throw new Error(`no manifest for platform ${want.os}/${want.architecture}${want.variant ? '/' + want.variant : ''} in index (has: ${have.join(', ') || 'none'})`);
  }
  return best.m;
}

export interface ImageConfigDoc {
  architecture?: string;
  os?: string;
  variant?: string;
  config?: Record<string, unknown>;
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: unknown[];
  created?: string;
}

/** Parses and checks an image config against its manifest (one diff_id per layer). */
export function parseConfig(body: Buffer, layerCount: number): ImageConfigDoc {
  let doc: ImageConfigDoc;
  try {
    doc = JSON.parse(body.toString('utf8')) as ImageConfigDoc;
  } catch {
    throw new Error('image config is not valid JSON');
  }
  const ids = doc.rootfs?.diff_ids;
  if (!Array.isArray(ids) || ids.some((d) => typeof d !== 'string' || !DIGEST.test(d))) {
    throw new Error('image config has no valid rootfs.diff_ids');
  }
  if (ids.length !== layerCount) throw new Error(`image config lists ${ids.length} diff_ids for ${layerCount} layers`);
  return doc;
}
