import * as grpc from '@grpc/grpc-js';
import { BerthError, type ErrorKind } from '../errors/errors.js';

const CODES: Record<ErrorKind, grpc.status> = {
  NotFound: grpc.status.NOT_FOUND,
  AlreadyExists: grpc.status.ALREADY_EXISTS,
  InvalidArgument: grpc.status.INVALID_ARGUMENT,
  FailedPrecondition: grpc.status.FAILED_PRECONDITION,
  Unauthenticated: grpc.status.UNAUTHENTICATED,
  PermissionDenied: grpc.status.PERMISSION_DENIED,
  Unavailable: grpc.status.UNAVAILABLE,
  DeadlineExceeded: grpc.status.DEADLINE_EXCEEDED,
  Unimplemented: grpc.status.UNIMPLEMENTED,
  Cancelled: grpc.status.CANCELLED,
  ResourceExhausted: grpc.status.RESOURCE_EXHAUSTED,
  Internal: grpc.status.INTERNAL,
};

/** Maps a thrown value to a gRPC status: domain errors keep their kind, anything else is INTERNAL. */
export function toStatus(err: unknown): { code: grpc.status; details: string } {
  if (err instanceof BerthError) return { code: CODES[err.kind], details: err.message };
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

export function codeName(code: grpc.status): string {
  return grpc.status[code] ?? String(code);
}
