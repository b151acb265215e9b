// Image volumes (KEP-4639): a CRI mount whose `image` is set gets that image's root filesystem,
// read-only and executable, at its container path. Each such mount of a container is an overlay
// of the image's layer snapshots with no upper directory, mounted at <bundle>/volumes/<n>: the
// kernel makes an overlay without an upper dir read-only, so nothing can reach the shared layers,
// and it costs one mount(2) (no copy, no prepared snapshot to account for). The container binds
// that view (or the directory `image_sub_path` names in it, see subpath.ts) read-only. The views
// live in the daemon's mount namespace beside the rootfs, are remounted at start if they went
// missing, and are unmounted before the bundle is removed.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { NotFoundError, quote } from '../errors/errors.js';
import type { ImageService } from '../image/types.js';
import { umountAsync } from '../sys/mount.js';
import { mountReadOnlyView } from './rootfs.js';
import { resolveSubPath } from './subpath.js';
import type { MountInput } from './types.js';

const volumesDir = (bundle: string): string => path.join(bundle, 'volumes');
const viewDir = (bundle: string, n: number): string => path.join(volumesDir(bundle), String(n));
/** The empty bottom layer of a single-layer image's view (overlay wants two lower dirs). */
const emptyDir = (bundle: string): string => path.join(volumesDir(bundle), '.empty');

/** Refuses an image volume whose image is not here, before anything is made (request.ts checked the form). */
export async function checkImageVolumes(images: ImageService, mounts: readonly MountInput[]): Promise<void> {
  for (const [i, m] of mounts.entries()) {
    if (m.image === undefined) continue;
    try {
      await images.get(m.image);
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`config.mounts[${i}].image: image ${quote(m.image)} of the image volume at ${quote(m.containerPath)} is not present locally (pull it first)`);
      throw err;
    }
  }
}

/**
 * Mounts the view of every image mount under the bundle and returns the mounts with hostPath
 * set to what the container binds and imageId to the image's ID. On failure the caller
 * unmounts with unmountImageVolumes.
 */
export async function mountImageVolumes(images: ImageService, bundle: string, mounts: readonly MountInput[]): Promise<MountInput[]> {
  const out: MountInput[] = [];
  for (const [n, m] of mounts.entries()) {
    if (m.image === undefined) {
      out.push(m);
      continue;
    }
    const view = await images.containerView(m.image);
    const dir = viewDir(bundle, n);
    await mountReadOnlyView(dir, view.lowerdirs, emptyDir(bundle));
    const host = m.imageSubPath ? await resolveSubPath(dir, m.imageSubPath, `config.mounts[${n}] (image ${quote(m.image)})`) : dir;
    out.push({ ...m, hostPath: host, imageId: view.image.id });
  }
  return out;
}

/** Whether a container's mounts include image volumes (else it has no views to mount or unmount). */
export function hasImageVolumes(mounts: readonly MountInput[]): boolean {
  return mounts.some((m) => m.imageId);
}

/** Unmounts every view of the bundle (idempotent), so that removing the bundle never walks an image. */
export async function unmountImageVolumes(bundle: string): Promise<void> {
  const views = (await readdir(volumesDir(bundle)).catch(() => [] as string[])).filter((name) => /^\d+$/.test(name));
  await Promise.all(views.map((name) => umountAsync(path.join(volumesDir(bundle), name))));
}

const isMountpoint = async (dir: string): Promise<boolean> => {
  const [a, b] = await Promise.all([stat(dir), stat(path.dirname(dir))]);
  return a.dev !== b.dev;
};

/** After a restart: mounts again the views of a container that went missing (another mount namespace, an operator's umount). */
export async function remountImageVolumes(images: ImageService, bundle: string, mounts: readonly MountInput[]): Promise<number> {
  let done = 0;
  for (const [n, m] of mounts.entries()) {
    if (!m.imageId) continue;
    const dir = viewDir(bundle, n);
    if (await isMountpoint(dir).catch(() => true)) continue; // mounted, or the bundle is gone
    await mountReadOnlyView(dir, (await images.containerView(m.imageId)).lowerdirs, emptyDir(bundle));
    done++;
  }
  return done;
}
