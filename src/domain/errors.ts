/** The closed set of error codes; `api/errors.ts` alone maps them to HTTP statuses. */
export type ErrorCode =
  | 'malformed_request'
  | 'validation_failed'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'invalid_transition'
  | 'run_finished'
  | 'idempotency_conflict'
  | 'conflict'
  | 'limit_reached'
  | 'content_expunged'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'service_unavailable'
  | 'internal_error';

export interface ErrorDetail {
  path: string;
  message: string;
}

export class OrbitError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;
  constructor(code: ErrorCode, message: string, details?: ErrorDetail[]) {
    super(message);
    this.name = 'OrbitError';
    this.code = code;
    this.details = details;
  }
}

export const notFound = (what: string) => new OrbitError('not_found', `${what} not found`);
export const validationFailed = (path: string, message: string) =>
  new OrbitError('validation_failed', 'the request is not valid', [{ path, message }]);
