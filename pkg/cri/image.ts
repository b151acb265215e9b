// The ImageService rpcs: thin handlers over pkg/image.
import type { ImageService } from '../image/types.js';

declare module './module.js' {
  interface Services {
    images: ImageService;
  }
}

export type { ImageService };
