import * as grpc from '@grpc/grpc-js';
import type { ArchiveChunk__Output } from '../cri/gen/berth/v1/ArchiveChunk.js';
import type { ConfigClient } from '../cri/gen/berth/v1/Config.js';
import type { ImagesClient } from '../cri/gen/berth/v1/Images.js';
import type { ReloadConfigResponse__Output } from '../cri/gen/berth/v1/ReloadConfigResponse.js';
import type { LoadImagesResponse__Output } from '../cri/gen/berth/v1/LoadImagesResponse.js';
import type { PullImageProgress__Output } from '../cri/gen/berth/v1/PullImageProgress.js';
import type { PullImageRequest } from '../cri/gen/berth/v1/PullImageRequest.js';
import { loadBerth } from './proto.js';

export type { PullImageProgress__Output as PullProgressMessage } from '../cri/gen/berth/v1/PullImageProgress.js';
export type { LayerProgress__Output as LayerProgressMessage } from '../cri/gen/berth/v1/LayerProgress.js';

/** A client of berth's own services (proto/berth/v1) on the berth socket. */
export class BerthClient {
  readonly images: ImagesClient;
  readonly config: ConfigClient;

  constructor(socket: string) {
    const target = socket.startsWith('unix:') ? socket : `unix://${socket}`;
    this.images = new (loadBerth().berth.v1.Images)(target, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    });
    // Shares the images client's channel: one connection to the socket.
    this.config = new (loadBerth().berth.v1.Config)(target, grpc.credentials.createInsecure(), { channelOverride: this.images.getChannel() });
  }

  /** Makes the daemon re-read its config file; rejects with FAILED_PRECONDITION when it refuses the file. */
  reloadConfig(): Promise<ReloadConfigResponse__Output> {
    return new Promise((resolve, reject) => this.config.Reload({}, (err, res) => (err ? reject(err) : resolve(res!))));
  }

  /** PullImage with progress: messages until the last one, which carries image_id. */
  pull(req: PullImageRequest): grpc.ClientReadableStream<PullImageProgress__Output> {
    return this.images.PullImage(req);
  }

  /** The tar of the images, as a stream of chunks. */
  save(images: string[]): grpc.ClientReadableStream<ArchiveChunk__Output> {
    return this.images.SaveImages({ images });
  }

  /** Write the archive's chunks, end the stream, and `done` resolves with what was imported. */
  load(): { stream: grpc.ClientWritableStream<{ data: Buffer }>; done: Promise<LoadImagesResponse__Output> } {
    let stream!: grpc.ClientWritableStream<{ data: Buffer }>;
    const done = new Promise<LoadImagesResponse__Output>((resolve, reject) => {
      stream = this.images.LoadImages((err, res) => (err ? reject(err) : resolve(res!)));
    });
    return { stream, done };
  }

  close(): void {
    this.images.close();
  }
}
