import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from './gen/api.js';
import type { ProtoGrpcType as BerthProtoGrpcType } from './gen/berth.js';

/** proto/api.proto, found relative to this file in both the source and the dist tree. */
export const PROTO_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..', 'proto/api.proto');
/** berth's own services (proto/berth/v1/berth.proto), served beside CRI. */
export const BERTH_PROTO_PATH = path.resolve(path.dirname(PROTO_PATH), 'berth/v1/berth.proto');

// The same options the generated types (scripts/gen-types.mjs) were made with: snake_case
// fields as on the wire, int64 as decimal strings (nanosecond timestamps exceed 2^53), enums by name.
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** Loads a proto file once, on first use. */
function cachedLoader<T>(file: string): () => T {
  let cached: T | undefined;
  return () => (cached ??= grpc.loadPackageDefinition(protoLoader.loadSync(file, LOADER_OPTIONS)) as unknown as T);
}

export const loadCri = cachedLoader<ProtoGrpcType>(PROTO_PATH);
export const loadBerth = cachedLoader<BerthProtoGrpcType>(BERTH_PROTO_PATH);
