/**
 * Svix's error shapes, so the official SDKs raise `ApiException` with the code and body their users
 * expect: 4xx `{ "code", "detail" }`, 422 `{ "detail": [ { "loc", "msg", "type" } ] }`. Every refusal
 * on the Svix-compatible routes goes through here; Orbit's own routes keep Orbit's envelope.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { OrbitError, type ErrorCode, type ErrorDetail } from '../../domain/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { isDatabaseUnavailable, STATUS_OF } from '../errors.ts';

export interface ValidationItem {
  loc: string[];
  msg: string;
  type: string;
}

/** Svix's `code` for each Orbit error code (Svix's own words where it has them). */
const SVIX_CODE: Record<ErrorCode, string> = {
  malformed_request: 'bad_request',
  validation_failed: 'validation_error',
  unauthenticated: 'authentication_failed',
  forbidden: 'insufficient_access',
  not_found: 'not_found',
  invalid_transition: 'conflict',
  run_finished: 'conflict',
  idempotency_conflict: 'idempotency_conflict',
  conflict: 'conflict',
  limit_reached: 'limit_reached',
  content_expunged: 'missing_payload',
  payload_too_large: 'payload_too_large',
  unsupported_media_type: 'unsupported_media_type',
  service_unavailable: 'service_unavailable',
  internal_error: 'server_error',
};

/** A Svix-shaped error answer: `{ code, detail }` with the status. */
export function svixError(c: Context, status: ContentfulStatusCode, code: string, detail: string): Response {
  return c.json({ code, detail }, status);
}

/** A Svix-shaped 422: `{ detail: [ { loc, msg, type } ] }`. */
export function svixValidation(c: Context, items: ValidationItem[]): Response {
  return c.json({ detail: items }, 422);
}

export const svixNotFound = (c: Context, detail = 'Entity not found'): Response => svixError(c, 404, 'not_found', detail);

export const svixNotImplemented = (c: Context): Response =>
  svixError(c, 501, 'not_implemented', 'Orbit does not implement this Svix API route (see "Coming from Svix" in the README)');

const LOCATIONS = new Set(['body', 'query', 'path', 'header']);

/** `body.url` → `["body", "url"]`; a path naming no location is the body's (`since` → `["body", "since"]`). */
function detailItems(details: readonly ErrorDetail[] | undefined, message: string): ValidationItem[] {
  if (!details || details.length === 0) return [{ loc: ['body'], msg: message, type: 'value_error' }];
  return details.map((detail) => {
    const loc = detail.path.split('.').filter((part) => part !== '');
    return { loc: LOCATIONS.has(loc[0] ?? '') ? loc : ['body', ...loc], msg: detail.message, type: 'value_error' };
  });
}

export function orbitErrorResponse(c: Context, error: OrbitError): Response {
  if (error.code === 'validation_failed') return svixValidation(c, detailItems(error.details, error.message));
  return svixError(c, STATUS_OF[error.code], SVIX_CODE[error.code], error.message);
}

/** The error handler of the Svix-compatible routes: no error, however caused, leaves without Svix's shape. */
export function handleSvixError(error: unknown, c: Context, logger: Logger): Response {
  if (error instanceof OrbitError) return orbitErrorResponse(c, error);
  if (error instanceof HTTPException) {
    if (error.status === 400) {
      return svixValidation(c, [{ loc: ['body'], msg: 'the request body is not valid JSON', type: 'value_error.jsondecode' }]);
    }
    if (error.status === 413) return payloadTooLarge(c);
    if (error.status === 415) return svixError(c, 415, 'unsupported_media_type', 'the request body must be application/json');
  }
  if (isDatabaseUnavailable(error)) {
    logger.warn({ requestId: c.get('requestId'), err: error }, 'database unavailable');
    return svixError(c, 503, 'service_unavailable', 'the database is unavailable; retry shortly');
  }
  logger.error({ requestId: c.get('requestId'), err: error }, 'unhandled error');
  return svixError(c, 500, 'server_error', 'Internal Server Error');
}

export const payloadTooLarge = (c: Context): Response => svixError(c, 413, 'payload_too_large', 'the request body is larger than 1 MiB');

/** Up to this many declared bytes are read (and dropped) before a 413, so the connection stays usable. */
const DRAIN_MAX_BYTES = 8 * 1024 * 1024;

/**
 * The 413 for a body refused from its Content-Length. The body is read and dropped first: answering
 * while the client is still sending would leave the connection to be cut mid-upload, and an SDK
 * reusing it for its next call would fail. A body too large even for that gets `connection: close`.
 */
export async function payloadTooLargeAfterDrain(c: Context): Promise<Response> {
  const body = c.req.raw.body;
  const declared = Number(c.req.header('content-length'));
  if (body && !body.locked && Number.isFinite(declared) && declared <= DRAIN_MAX_BYTES) {
    const reader = body.getReader();
    try {
      for (let read = 0; read <= DRAIN_MAX_BYTES;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        read += chunk.value.length;
      }
    } catch {
      // The client went away: nothing to answer anyway.
    }
  } else {
    c.header('connection', 'close');
  }
  return payloadTooLarge(c);
}

const PREFIX: Record<string, string> = { json: 'body', query: 'query', header: 'header' };

function zodItems(error: ZodError, prefix: string): ValidationItem[] {
  return error.issues.flatMap((issue) => {
    const loc = [prefix, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => ({ loc: [...loc, key], msg: issue.message, type: 'value_error' }));
    return [{ loc, msg: issue.message, type: issue.code === 'invalid_type' ? 'type_error' : 'value_error' }];
  });
}

/** Request validation on the Svix routes: 422 in Svix's shape; a malformed path value names nothing (404). */
export function svixValidationHook(
  result: { success: true } | { success: false; error: ZodError; target: string },
  c: Context,
): Response | undefined {
  if (result.success) return undefined;
  if (result.target === 'param') return svixNotFound(c);
  return svixValidation(c, zodItems(result.error, PREFIX[result.target] ?? result.target));
}
