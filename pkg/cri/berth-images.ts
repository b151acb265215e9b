// berth.v1.Images: berth's own image rpcs beside CRI (proto/berth/v1/berth.proto): a pull that
// streams per-layer progress, and image archives (save / load). Thin handlers over pkg/image.
import type * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError } from '../errors/errors.js';
import type { LayerProgress, LayerState } from '../image/types.js';
import type { PullImageProgress } from './gen/berth/v1/PullImageProgress.js';
import type { PullImageRequest__Output } from './gen/berth/v1/PullImageRequest.js';
import type { LayerState as WireLayerState } from './gen/berth/v1/LayerState.js';
import { need, type CriModule } from './module.js';
import { loadBerth } from './proto.js';
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
export function failStream(call: grpc.ServerWritableStream<unknown, unknown>, err: unknown): void {
  const st = toStatus(err);
  call.emit('error', { code: st.code, details: st.details });
}

/** Sends layer progress as it comes, batching byte updates per interval. */
function progressSender(call: grpc.ServerWritableStream<PullImageRequest__Output, PullImageProgress>) {
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

export const berthImagesModule: CriModule = {
  name: 'berth-images',
  async start(ctx) {
    const images = need(ctx, 'images');
    const def = loadBerth().berth.v1.Images.service;
    const pullImage = (call: grpc.ServerWritableStream<PullImageRequest__Output, PullImageProgress>) => {
      const req = call.request;
      if (!req.image) return failStream(call, new InvalidArgumentError('PullImage: image reference is empty'));
      const abort = new AbortController();
      call.once('cancelled', () => abort.abort(new Error('PullImage cancelled by the client')));
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
    return {
      handlers: {},
      extraServices: [{ name: 'berth.v1.Images', definition: def, handlers: { PullImage: pullImage } }],
    };
  },
};
