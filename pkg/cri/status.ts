import { Status } from '../grpc/wire.js';
import { BerthError, type ErrorKind } from '../errors/errors.js';

const CODES: Record<ErrorKind, Status> = {
  NotFound: Status.NOT_FOUND,
  AlreadyExists: Status.ALREADY_EXISTS,
  InvalidArgument: Status.INVALID_ARGUMENT,
  FailedPrecondition: Status.FAILED_PRECONDITION,
  Unauthenticated: Status.UNAUTHENTICATED,
  PermissionDenied: Status.PERMISSION_DENIED,
  Unavailable: Status.UNAVAILABLE,
  DeadlineExceeded: Status.DEADLINE_EXCEEDED,
  Unimplemented: Status.UNIMPLEMENTED,
  Cancelled: Status.CANCELLED,
  ResourceExhausted: Status.RESOURCE_EXHAUSTED,
  Internal: Status.INTERNAL,
};

/** Maps a thrown value to a gRPC status: domain errors keep their kind, anything else is INTERNAL. */
export function toStatus(err: unknown): { code: Status; details: string } {
  if (err instanceof BerthError) return { code: CODES[err.kind], details: err.message };
  return { code: Status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

export function codeName(code: Status): string {
  return Status[code] ?? String(code);
}
