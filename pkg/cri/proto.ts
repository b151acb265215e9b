import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from './gen/api.js';

/** proto/api.proto, found relative to this file in both the source and the dist tree. */
export const PROTO_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..', 'proto/api.proto');

// The same options the generated types (scripts/gen-types.mjs) were made with: snake_case
// fields as on the wire, int64 as decimal strings (nanosecond timestamps exceed 2^53), enums by name.
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cached: ProtoGrpcType | undefined;

export function loadCri(): ProtoGrpcType {
  if (!cached) {
    const def = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  }
  return cached;
}
