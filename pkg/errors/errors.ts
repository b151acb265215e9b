// Typed domain errors. Domain packages throw these; pkg/cri maps each kind to one gRPC code,
// so no domain package needs to know about gRPC.

export type ErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'InvalidArgument'
  | 'FailedPrecondition'
  | 'Unauthenticated'
  | 'PermissionDenied'
  | 'Unavailable'
  | 'DeadlineExceeded'
  | 'Unimplemented'
  | 'Cancelled'
  | 'ResourceExhausted'
  | 'Internal';

export class BerthError extends Error {
  constructor(readonly kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = `${kind}Error`;
  }
}

export class NotFoundError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('NotFound', message, options); }
}
export class AlreadyExistsError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('AlreadyExists', message, options); }
}
export class InvalidArgumentError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('InvalidArgument', message, options); }
}
export class FailedPreconditionError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('FailedPrecondition', message, options); }
}
export class UnauthenticatedError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('Unauthenticated', message, options); }
}
export class PermissionDeniedError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('PermissionDenied', message, options); }
}
export class UnavailableError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('Unavailable', message, options); }
}
export class DeadlineExceededError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('DeadlineExceeded', message, options); }
}
export class UnimplementedError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('Unimplemented', message, options); }
}
/** The caller went away (cancelled its call): the work stops, nobody hears the answer. */
export class CancelledError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('Cancelled', message, options); }
}

/** An answer or a request beyond a limit berth keeps (the message names the limit and the way around it). */
export class ResourceExhaustedError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('ResourceExhausted', message, options); }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A caller-given value for an error message: quoted, and cut to `max` characters, so a hostile
 * request cannot make the answer (a gRPC trailer) as large as itself.
 */
export function quote(value: string, max = 96): string {
  if (value.length <= max) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)`;
}
