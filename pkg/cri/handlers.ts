import type * as grpc from '@grpc/grpc-js';
import type { ServerWritableCall } from '../grpc/calls.js';
import type { RuntimeServiceHandlers } from './gen/runtime/v1/RuntimeService.js';
import type { ImageServiceHandlers } from './gen/runtime/v1/ImageService.js';

/** What a handler learns about its call besides the request. */
export interface CallContext {
  method: string;
  /** Aborted when the client cancels or its deadline passes. */
  signal: AbortSignal;
}

type Unary<H> = H extends grpc.handleUnaryCall<infer Req, infer Res> ? (req: Req, ctx: CallContext) => Promise<Res> : never;
type ServerStream<H> = H extends grpc.handleServerStreamingCall<infer Req, infer Res>
  ? (call: ServerWritableCall<Req, Res>) => void
  : never;

type Wrap<T> = {
  [K in keyof T as string extends K ? never : K]: T[K] extends grpc.handleServerStreamingCall<any, any>
    ? ServerStream<T[K]>
    : Unary<T[K]>;
};

export type RuntimeHandlers = Wrap<RuntimeServiceHandlers>;
export type ImageHandlers = Wrap<ImageServiceHandlers>;

/** Handlers a module contributes; every rpc left out answers UNIMPLEMENTED. */
export type HandlerSet = Partial<RuntimeHandlers> & Partial<ImageHandlers>;
