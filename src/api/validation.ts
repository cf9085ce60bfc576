import type { Context } from 'hono';
import type { ZodError } from 'zod';
import { errorResponse, zodDetails } from './errors.ts';

const PREFIX: Record<string, string> = { json: 'body', query: 'query', param: 'path', header: 'header' };

/** Turns a failed request validation into `422 validation_failed` with a detail per problem (`404` for path ids). */
export function validationHook(
  result: { success: true } | { success: false; error: ZodError; target: string },
  c: Context,
): Response | undefined {
  if (result.success) return undefined;
  // An id that is not even well-formed names nothing: answer as for any unknown id.
  if (result.target === 'param') return errorResponse(c, 'not_found', 'not found');
  return errorResponse(
    c,
    'validation_failed',
    'the request is not valid',
    zodDetails(result.error, PREFIX[result.target] ?? result.target),
  );
}
