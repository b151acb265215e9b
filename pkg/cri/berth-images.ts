// berth.v1.Images: berth's own image rpcs beside CRI (proto/berth/v1/berth.proto): a pull that
// streams per-layer progress, and image archives (save / load) streamed as tar chunks. Thin
// handlers over pkg/image. Archives travel over the socket (not as file paths the daemon
// opens), so a client in another mount namespace or on a forwarded socket works the same.
import type { ServerReadableCall, ServerWritableCall } from '../grpc/calls.js';
import { CancelledError, FailedPreconditionError, InvalidArgumentError } from '../errors/errors.js';
import { loadArchive } from '../image/archive-load.js';
import { saveArchive } from '../image/archive-save.js';
import { ImageServiceImpl } from '../image/service.js';
import type { LayerProgress, LayerState } from '../image/types.js';
import type { ArchiveChunk, ArchiveChunk__Output } from './gen/berth/v1/ArchiveChunk.js';
import type { LoadImagesResponse } from './gen/berth/v1/LoadImagesResponse.js';
import type { PullImageProgress } from './gen/berth/v1/PullImageProgress.js';
import type { SaveImagesRequest__Output } from './gen/berth/v1/SaveImagesRequest.js';
import type { CallContext } from './handlers.js';
import type { PullImageRequest__Output } from './gen/berth/v1/PullImageRequest.js';
import type { LayerState as WireLayerState } from './gen/berth/v1/LayerState.js';
import { need, type CriModule } from './module.js';
import { berthServices } from './proto.js';
import { toStatus } from './status.js';

const WIRE_STATE: Record<LayerState, WireLayerState> = {
  waiting: 'LAYER_WAITING',
  downloading: 'LAYER_DOWNLOADING',
  extracting: 'LAYER_EXTRACTING',
  done: 'LAYER_DONE',
  exists: 'LAYER_ALREADY_EXISTS',
};

/** Byte counts of a downloading layer go out at most this often; state changes at once. */
const PROGRESS_INTERVAL_MS = 100;

/** Ends a server stream with the gRPC status an error maps to. */
export function failStream(call: ServerWritableCall<unknown, unknown>, err: unknown): void {
  const st = toStatus(err);
  call.emit('error', { code: st.code, details: st.details });
}

/** Sends layer progress as it comes, batching byte updates per interval. */
function progressSender(call: ServerWritableCall<PullImageRequest__Output, PullImageProgress>) {
  const pending = new Map<string, LayerProgress>();
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (!pending.size || call.cancelled) return;
    const layers = [...pending.values()].map((l) => ({ digest: l.digest, size: String(l.size), current: String(l.current), state: WIRE_STATE[l.state] }));
    pending.clear();
    call.write({ layers });
  };
  const listener = (l: LayerProgress) => {
    pending.set(l.digest, l);
    if (l.state !== 'downloading') flush();
    else timer ??= setTimeout(flush, PROGRESS_INTERVAL_MS);
  };
  return { listener, flush };
}

/** Chunks of at most this many bytes go out in one ArchiveChunk. */
const ARCHIVE_CHUNK = 1 << 20;

/** Sends tar bytes as ArchiveChunk messages, small pieces joined, waiting when the client is slow. */
async function sendArchive(call: ServerWritableCall<SaveImagesRequest__Output, ArchiveChunk>, tar: AsyncGenerator<Buffer>): Promise<void> {
  let batch: Buffer[] = [];
  let len = 0;
  const send = async () => {
    if (!len) return;
    const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch, len);
    batch = [];
    len = 0;
    if (!call.write({ data })) await new Promise<void>((resolve) => {
      call.once('drain', resolve);
      call.once('cancelled', resolve);
    });
  };
  try {
    for await (const chunk of tar) {
      if (call.cancelled) return;
      batch.push(chunk);
      len += chunk.length;
      if (len >= ARCHIVE_CHUNK) await send();
    }
    await send();
  } finally {
    await tar.return(undefined);
  }
}

/** The client's ArchiveChunk messages as a byte stream. */
async function* archiveBytes(call: ServerReadableCall<ArchiveChunk__Output>): AsyncGenerator<Buffer> {
  for await (const m of call as AsyncIterable<ArchiveChunk__Output>) if (m.data.length) yield m.data;
}

export const berthImagesModule: CriModule = {
  name: 'berth-images',
  async start(ctx) {
    const images = need(ctx, 'images');
    const def = berthServices().Images;
    const pullImage = (call: ServerWritableCall<PullImageRequest__Output, PullImageProgress>) => {
      const req = call.request;
      if (!req.image) return failStream(call, new InvalidArgumentError('PullImage: image reference is empty'));
      const abort = new AbortController();
      call.once('cancelled', () => abort.abort(new CancelledError('PullImage cancelled by the client')));
      const auth = req.username || req.password ? { username: req.username, password: req.password } : undefined;
      const progress = progressSender(call);
      images.pull(req.image, auth, abort.signal, progress.listener).then(
        (img) => {
          progress.flush();
          call.write({ layers: [], image_id: img.id });
          call.end();
        },
        (err: unknown) => {
          progress.flush();
          failStream(call, err);
        },
      );
    };
    // Archives read and write berth's own store (content blobs, snapshots), not a generic one.
    const store = (): ImageServiceImpl => {
      if (!(images instanceof ImageServiceImpl)) throw new FailedPreconditionError('image archives need berth\'s own image store');
      return images;
    };
    const saveImages = (call: ServerWritableCall<SaveImagesRequest__Output, ArchiveChunk>) => {
      const refs = call.request.images;
      if (!refs.length || refs.some((r) => !r.trim())) return failStream(call, new InvalidArgumentError('SaveImages: images must name at least one image, none empty'));
      Promise.resolve()
        .then(() => saveArchive(store(), refs))
        .then((tar) => sendArchive(call, tar))
        .then(() => call.end(), (err: unknown) => failStream(call, err));
    };
    const loadImages = async (call: ServerReadableCall<ArchiveChunk__Output>, ctx: CallContext): Promise<LoadImagesResponse> => {
      const loaded = await loadArchive(store(), archiveBytes(call), ctx.signal);
      return { images: loaded.map((r) => ({ id: r.id, repo_tags: r.tags })) };
    };
    return {
      handlers: {},
      extraServices: [{ name: 'berth.v1.Images', definition: def, handlers: { PullImage: pullImage, SaveImages: saveImages, LoadImages: loadImages } }],
    };
  },
};
