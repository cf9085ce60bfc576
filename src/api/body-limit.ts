import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ApiEnv } from './auth.ts';

export interface BodyLimitOptions {
  maxSize: number;
  onError: (c: Context<ApiEnv>) => Response | Promise<Response>;
}

/**
 * Refuses request bodies over `maxSize`, as Hono's bodyLimit does, without its cost on a request
 * that declares its length. bodyLimit reads `c.req.raw.body` first, which makes @hono/node-server
 * build a full web Request and pass the body through web streams, instead of reading it straight
 * from the socket: about a tenth of the API's CPU under load (docs/operations.md, "Performance").
 * A Content-Length is checked here, as bodyLimit checks it (Node's HTTP parser holds the body to
 * it); a chunked body still goes through bodyLimit, which counts it while it streams.
 */
export function limitRequestBody(options: BodyLimitOptions): MiddlewareHandler<ApiEnv> {
  const whileStreaming = bodyLimit(options);
  return async (c, next) => {
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      return Number.parseInt(length, 10) > options.maxSize ? options.onError(c) : next();
    }
    // @hono/node-server gives these no body (neither does bodyLimit's check).
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    return whileStreaming(c, next);
  };
}
