import type { MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ApiEnv } from './auth.ts';

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;
// Fatal: bytes that are not UTF-8 throw, so one pass both checks and decodes.
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Refuses a JSON body that is not UTF-8 as malformed, where decoding it would have replaced the bad
 * bytes with U+FFFD and stored (and delivered) a payload the sender never sent. The check reads the
 * bytes once and leaves their text in Hono's body cache, so the validators and handlers that read
 * the body later get it without decoding again. A body that fails rejects every later read with
 * the 400 a malformed JSON body gets, which each API's error handler answers in its own shape.
 */
export function requireUtf8Json(): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || !JSON_TYPE.test(c.req.header('content-type') ?? '')) return next();
    const bytes = await c.req.arrayBuffer();
    // Hono keeps each read's promise here (its type says the value; the runtime holds promises).
    const cache = c.req.bodyCache as { text?: Promise<string> };
    try {
      cache.text = Promise.resolve(decoder.decode(bytes));
    } catch {
      const refused = Promise.reject(new HTTPException(400, { message: 'the request body is not valid UTF-8' }));
      // Handled here too: a route that never reads its body must not leave an unhandled rejection.
      refused.catch(() => undefined);
      cache.text = refused;
    }
    return next();
  };
}
