// grpc-js client constructors for CRI and berth's own services, made from the same method
// definitions the daemon serves (pkg/cri/proto.ts). Only clients load grpc-js: the daemon's
// server is pkg/grpc, on node:http2.
import * as grpc from '@grpc/grpc-js';
import type { ProtoGrpcType } from '../cri/gen/api.js';
import type { ProtoGrpcType as BerthProtoGrpcType } from '../cri/gen/berth.js';
import { BERTH_PROTO_PATH, PROTO_PATH, serviceDefinitions } from '../cri/proto.js';

/** Loads a proto file's client constructors once, on first use. */
function cachedLoader<T>(file: string): () => T {
  let cached: T | undefined;
  return () => (cached ??= grpc.loadPackageDefinition(serviceDefinitions(file) as unknown as Parameters<typeof grpc.loadPackageDefinition>[0]) as unknown as T);
}

export const loadCri = cachedLoader<ProtoGrpcType>(PROTO_PATH);
export const loadBerth = cachedLoader<BerthProtoGrpcType>(BERTH_PROTO_PATH);
