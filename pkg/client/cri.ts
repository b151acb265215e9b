import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { ImageServiceClient, ImageServiceDefinition } from '../cri/gen/runtime/v1/ImageService.js';
import type { RuntimeServiceClient, RuntimeServiceDefinition } from '../cri/gen/runtime/v1/RuntimeService.js';
import type { GetEventsRequest } from '../cri/gen/runtime/v1/GetEventsRequest.js';
import type { ContainerEventResponse__Output } from '../cri/gen/runtime/v1/ContainerEventResponse.js';
import { loadCri } from './proto.js';

type In<D> = D extends MethodDefinition<infer A, any, any, any> ? A : never;
type Out<D> = D extends MethodDefinition<any, any, any, infer B> ? B : never;
/** Server-streaming rpcs: GetContainerEvents and the list streams (StreamContainers, …). */
type IsStream<K> = K extends 'GetContainerEvents' | `Stream${string}` ? true : false;
type Unary<Def> = {
  [K in keyof Def as string extends K ? never : IsStream<K> extends true ? never : K]: Def[K];
};
type ListStreams<Def> = {
  [K in keyof Def as K extends `Stream${string}` ? K : never]: Def[K];
};

export type RuntimeMethod = keyof Unary<RuntimeServiceDefinition>;
export type ImageMethod = keyof Unary<ImageServiceDefinition>;
export type RuntimeStreamMethod = keyof ListStreams<RuntimeServiceDefinition>;
export type ImageStreamMethod = keyof ListStreams<ImageServiceDefinition>;
export type RuntimeRequest<M extends RuntimeMethod> = In<RuntimeServiceDefinition[M]>;
export type RuntimeResponse<M extends RuntimeMethod> = Out<RuntimeServiceDefinition[M]>;
export type ImageRequest<M extends ImageMethod> = In<ImageServiceDefinition[M]>;
export type ImageResponse<M extends ImageMethod> = Out<ImageServiceDefinition[M]>;

export interface CallOptions {
  /** Per-call deadline in milliseconds (default 60 s). */
  timeoutMs?: number;
}

/** A gRPC error with its status code, as the client sees it. */
export type CriError = grpc.ServiceError;

/** A typed CRI v1 client over a unix socket: `await client.runtime('Version', {})`. */
export class CriClient {
  readonly runtimeClient: RuntimeServiceClient;
  readonly imageClient: ImageServiceClient;

  /** `defaults.timeoutMs`: the deadline of calls that name none (60 s). */
  constructor(socket: string, private readonly defaults: CallOptions = {}) {
    const cri = loadCri().runtime.v1;
    const target = socket.startsWith('unix:') ? socket : `unix://${socket}`;
    const creds = grpc.credentials.createInsecure();
    const opts = { 'grpc.max_receive_message_length': 16 * 1024 * 1024 };
    this.runtimeClient = new cri.RuntimeService(target, creds, opts);
    this.imageClient = new cri.ImageService(target, creds, opts);
  }

  runtime<M extends RuntimeMethod>(method: M, req: RuntimeRequest<M>, opts?: CallOptions): Promise<RuntimeResponse<M>> {
    if (method === 'CreateContainer') req = utf8Envs(req as RuntimeRequest<'CreateContainer'>) as RuntimeRequest<M>;
    return call(this.runtimeClient, method, req, { ...this.defaults, ...opts });
  }

  image<M extends ImageMethod>(method: M, req: ImageRequest<M>, opts?: CallOptions): Promise<ImageResponse<M>> {
    return call(this.imageClient, method, req, { ...this.defaults, ...opts });
  }

  events(req: GetEventsRequest = {}): grpc.ClientReadableStream<ContainerEventResponse__Output> {
    return this.runtimeClient.GetContainerEvents(req);
  }

  /**
   * A list stream of the RuntimeService (`StreamContainers`, …): a readable of response batches,
   * async-iterable; it ends after the last batch, or fails with the call's status.
   */
  runtimeStream<M extends RuntimeStreamMethod>(method: M, req: In<RuntimeServiceDefinition[M]>, opts?: CallOptions): grpc.ClientReadableStream<Out<RuntimeServiceDefinition[M]>> {
    return openStream(this.runtimeClient, method, req, opts);
  }

  /** A list stream of the ImageService (`StreamImages`). */
  imageStream<M extends ImageStreamMethod>(method: M, req: In<ImageServiceDefinition[M]>, opts?: CallOptions): grpc.ClientReadableStream<Out<ImageServiceDefinition[M]>> {
    return openStream(this.imageClient, method, req, opts);
  }

  close(): void {
    this.runtimeClient.close();
    this.imageClient.close();
  }
}

/**
 * `KeyValue.value` is `bytes` since cri-api v0.36, and protobufjs reads a string given for a
 * bytes field as base64: env values written as text are sent as their UTF-8 bytes instead.
 */
function utf8Envs(req: RuntimeRequest<'CreateContainer'>): RuntimeRequest<'CreateContainer'> {
  const envs = req.config?.envs;
  if (!envs?.some((e) => typeof e.value === 'string')) return req;
  const utf8 = envs.map((e) => (typeof e.value === 'string' ? { ...e, value: Buffer.from(e.value, 'utf8') } : e));
  return { ...req, config: { ...req.config, envs: utf8 } };
}

function openStream<R>(client: grpc.Client, method: string, req: unknown, opts?: CallOptions): grpc.ClientReadableStream<R> {
  const fn = (client as unknown as Record<string, Function>)[method];
  if (typeof fn !== 'function') throw new Error(`CRI client: no method ${method}`);
  const deadline = new Date(Date.now() + (opts?.timeoutMs ?? 60_000));
  return fn.call(client, req, { deadline }) as grpc.ClientReadableStream<R>;
}

/** Every item of a list stream, batch by batch, as the unary call would list them. */
export async function collectStream<R, T>(stream: grpc.ClientReadableStream<R>, items: (batch: R) => T[]): Promise<{ items: T[]; batches: number }> {
  const out: T[] = [];
  let batches = 0;
  for await (const batch of stream as AsyncIterable<R>) {
    batches++;
    out.push(...items(batch));
  }
  return { items: out, batches };
}

function call<R>(client: grpc.Client, method: string, req: unknown, opts?: CallOptions): Promise<R> {
  const deadline = new Date(Date.now() + (opts?.timeoutMs ?? 60_000));
  return new Promise<R>((resolve, reject) => {
    const fn = (client as unknown as Record<string, Function>)[method];
    if (typeof fn !== 'function') {
      reject(new Error(`CRI client: no method ${method}`));
      return;
    }
    fn.call(client, req, { deadline }, (err: grpc.ServiceError | null, res: R) => (err ? reject(err) : resolve(res)));
  });
}

export { status as GrpcStatus } from '@grpc/grpc-js';
