import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { OrbitError, type ErrorCode, type ErrorDetail } from '../domain/errors.ts';
import { errorCodes } from '../lib/error-codes.ts';
import type { Logger } from '../lib/logger.ts';

/** The one place where error codes become HTTP statuses. */
export const STATUS_OF: Record<ErrorCode, ContentfulStatusCode> = {
  malformed_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  invalid_transition: 409,
  run_finished: 409,
  idempotency_conflict: 409,
  conflict: 409,
  // A request that is fine but would go over a count Orbit keeps (Svix's 400 limit_reached).
  limit_reached: 400,
  // A message whose content was expunged cannot be sent again (Svix answers 400 missing_payload).
  content_expunged: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  internal_error: 500,
  service_unavailable: 503,
};

export function errorResponse(c: Context, code: ErrorCode, message: string, details?: ErrorDetail[]): Response {
  const requestId = (c.get('requestId') as string | undefined) ?? 'unknown';
  return c.json({ error: { code, message, ...(details ? { details } : {}), requestId } }, STATUS_OF[code]);
}

export function zodDetails(error: ZodError, prefix: string): ErrorDetail[] {
  const pathOf = (parts: readonly PropertyKey[]) => [prefix, ...parts.map(String)].filter((part) => part !== '').join('.');
  // One detail per unknown field, named by its own path (`body.webHook`), so a typo is found at once.
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: pathOf([...issue.path, key]), message: issue.message }))
      : [{ path: pathOf(issue.path), message: issue.message }],
  );
}

/** PostgreSQL connection failures: the database is unreachable, not the request wrong. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01',
  '57P02',
  '57P03',
]);

export function isDatabaseUnavailable(error: unknown): boolean {
  return errorCodes(error).some((code) => UNAVAILABLE_CODES.has(code) || code.startsWith('08'));
}

export function handleError(error: unknown, c: Context, logger: Logger): Response {
  if (error instanceof OrbitError) return errorResponse(c, error.code, error.message, error.details);
  if (error instanceof HTTPException) {
    if (error.status === 400) return errorResponse(c, 'malformed_request', 'the request body is not valid JSON');
    if (error.status === 413) return errorResponse(c, 'payload_too_large', 'the request body is larger than 1 MiB');
    if (error.status === 415) return errorResponse(c, 'unsupported_media_type', 'the request body must be application/json');
  }
  if (isDatabaseUnavailable(error)) {
    logger.warn({ requestId: c.get('requestId'), err: error }, 'database unavailable');
    return errorResponse(c, 'service_unavailable', 'the database is unavailable; retry shortly');
  }
  logger.error({ requestId: c.get('requestId'), err: error }, 'unhandled error');
  return errorResponse(c, 'internal_error', 'an internal error occurred');
}
