// The /etc/passwd and /etc/group of an image, kept per image ID. A container's rootfs is fresh
// at CreateContainer (its writable layer is empty), so what it reads there is the image's own
// file, and an image ID (the config digest, which names every layer's diff ID) always has the
// same layers: the text read through the first container's rootfs serves every later one, which
// then resolves its user without waiting for its overlay mount.

export interface ImageUserFiles {
  passwd: string;
  group: string;
}

export class ImageUserFilesCache {
  private readonly byImage = new Map<string, ImageUserFiles>();

  constructor(private readonly max = 64) {}

  /**
   * The files of `imageId`, from `read` when not kept. Only a read that found both files is
   * kept: an empty text may also stand for a read that failed (readImageFile answers '' then).
   */
  async get(imageId: string, read: () => Promise<ImageUserFiles>): Promise<ImageUserFiles> {
    const hit = this.byImage.get(imageId);
    if (hit) return hit;
    const files = await read();
    if (files.passwd && files.group) {
      // The oldest entry goes first (a Map iterates in insertion order).
      if (this.byImage.size >= this.max) this.byImage.delete(this.byImage.keys().next().value!);
      this.byImage.set(imageId, files);
    }
    return files;
  }
}
