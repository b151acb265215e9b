// The ImageService rpcs: thin handlers over pkg/image.
import { Counter, Histogram } from '../metrics/metrics.js';
import { parseDuration } from '../config/config.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { ImageServiceImpl } from '../image/service.js';
import type { ImageRecord, ImageService, RegistryAuth } from '../image/types.js';
import type { Image } from './gen/runtime/v1/Image.js';
import type { AuthConfig__Output } from './gen/runtime/v1/AuthConfig.js';
import type { ImageFilter__Output } from './gen/runtime/v1/ImageFilter.js';
import { addAll, itemEncoder, serveList } from './list-stream.js';
import { DerivedMemo } from './status-memo.js';
import type { CriModule } from './module.js';

declare module './module.js' {
  interface Services {
    images: ImageService;
  }
}

export type { ImageService };

/** CRI's view of an image: the config's user as a uid when numeric, else as a name. */
export function toCriImage(r: ImageRecord): Image {
  const user = r.user.split(':')[0] ?? '';
  const numeric = /^\d+$/.test(user);
  return {
    id: r.id,
    repo_tags: r.repoTags,
    repo_digests: r.repoDigests,
    size: String(r.size),
    uid: numeric ? { value: user } : null,
    username: numeric ? '' : user,
    spec: { image: r.id, annotations: {}, image_ref: r.id },
    pinned: r.pinned,
  };
}

/** The images ListImages and StreamImages answer with: the one the filter names, else all. */
function* matchingImages(svc: ImageServiceImpl, f: ImageFilter__Output | null): Generator<ImageRecord> {
  const want = f?.image?.image;
  if (!want) {
    yield* svc.iterate();
    return;
  }
  const img = svc.lookup(want);
  if (img) yield img;
}

function toAuth(a: AuthConfig__Output | null): RegistryAuth | undefined {
  if (!a) return undefined;
  const out: RegistryAuth = {};
  if (a.username) out.username = a.username;
  if (a.password) out.password = a.password;
  if (a.auth) out.auth = a.auth;
  if (a.server_address) out.serverAddress = a.server_address;
  if (a.identity_token) out.identityToken = a.identity_token;
  if (a.registry_token) out.registryToken = a.registry_token;
  return Object.keys(out).length ? out : undefined;
}

export const imageModule: CriModule = {
  name: 'images',
  async start(ctx) {
    const pullBytes = new Counter({ name: 'berth_image_pull_bytes_total', help: 'Bytes of image blobs downloaded.', registers: [ctx.metrics.registry] });
    const pullDuration = new Histogram({
      name: 'berth_image_pull_duration_seconds',
      help: 'Time to pull an image, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [ctx.metrics.registry],
    });
    const svc = new ImageServiceImpl({
      root: ctx.config.root,
      store: ctx.store,
      log: ctx.log.child({ module: 'images' }),
      // Read at each pull, so a config reload reaches the next pull (pkg/config/reload.ts).
      registry: {
        get insecure() { return ctx.config.registry.insecure; },
        get mirrors() { return ctx.config.registry.mirrors; },
        get auths() { return ctx.config.registry.auths; },
      },
      get maxConcurrentDownloads() { return ctx.config.image.max_concurrent_downloads; },
      pullProgressTimeoutMs: parseDuration(ctx.config.image.pull_progress_timeout) ?? 0,
      onPullBytes: (n) => pullBytes.inc(n),
    });
    await svc.init();
    ctx.services.images = svc;
    // The same CRI object (and so the same encoded bytes, status-memo.ts) while the record is.
    const criImage = new DerivedMemo(toCriImage);
    return {
      // Lets background snapshot deletions finish (what is left is removed at the next start).
      close: () => svc.idle(),
      handlers: {
        PullImage: async (req, call) => {
          const ref = req.image?.image ?? '';
          if (!ref) throw new InvalidArgumentError('PullImage: image reference is empty');
          const end = pullDuration.startTimer();
          try {
            const img = await svc.pull(ref, toAuth(req.auth), call.signal);
            end({ outcome: 'ok' });
            return { image_ref: img.id };
          } catch (err) {
            end({ outcome: 'error' });
            throw err;
          }
        },
        ImageStatus: async (req) => {
          const img = svc.lookup(req.image?.image ?? '');
          if (!img) return { image: null, info: {} };
          const info: Record<string, string> = {};
          if (req.verbose) info.info = JSON.stringify(await svc.verboseInfo(img.id));
          return { image: criImage.get(img), info };
        },
        ListImages: async (req) => ({ images: [...matchingImages(svc, req.filter)].map((r) => criImage.get(r)) }),
        StreamImages: (call) => {
          const encode = itemEncoder<Image>('ImageService', 'StreamImages', 'images');
          void serveList(call, (w) => addAll(w, matchingImages(svc, call.request.filter), (r) => encode(criImage.get(r))));
        },
        RemoveImage: async (req) => {
          const ref = req.image?.image ?? '';
          if (!ref) throw new InvalidArgumentError('RemoveImage: image reference is empty');
          await svc.remove(ref);
          return {};
        },
        ImageFsInfo: async () => {
          const now = String(BigInt(Date.now()) * 1_000_000n);
          const [img, rw] = await Promise.all([svc.imageFsUsage(), svc.writableFsUsage()]);
          const fs = (u: typeof img) => ({
            timestamp: now,
            fs_id: { mountpoint: u.mountpoint },
            used_bytes: { value: String(u.usedBytes) },
            inodes_used: { value: String(u.inodesUsed) },
          });
          return { image_filesystems: [fs(img)], container_filesystems: [fs(rw)] };
        },
      },
    };
  },
};
