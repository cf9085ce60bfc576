import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { newId } from '../lib/ids.ts';
import type { Logger } from '../lib/logger.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { ApiEnv } from './auth.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Probes and scrapes come every few seconds from machines: their lines would drown the rest at info. */
const QUIET_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);
/** Path parameters worth a field of their own in request lines (ids users search logs by). */
const LOGGED_PARAMS = ['runId', 'messageId'] as const;
const UNMATCHED = 'unmatched';

/**
 * The registered pattern of the route that answers (`/v1/runs/:runId`), also when a middleware
 * answered first (401 on `/v1/runs/:runId` is still that route). Patterns come from our own route
 * table, so the label set is bounded whatever paths clients send; no route at all is `unmatched`.
 */
function routePattern(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i];
    // Middlewares (`use`) register for every method; handlers for one.
    if (route !== undefined && route.method !== 'ALL') return route.path;
  }
  return UNMATCHED;
}

/** The named ids of a path, read against its route pattern (`:runId` ↔ `run_…`). */
function loggedParams(pattern: string, path: string): Partial<Record<(typeof LOGGED_PARAMS)[number], string>> {
  const names = pattern.split('/');
  const values = path.split('/');
  const found: Partial<Record<(typeof LOGGED_PARAMS)[number], string>> = {};
  if (names.length !== values.length) return found;
  names.forEach((segment, index) => {
    if (!segment.startsWith(':')) return;
    const name = segment.slice(1).replace(/\{.*$/, '').replace(/\?$/, '');
    const value = values[index];
    for (const wanted of LOGGED_PARAMS) {
      // Capped: a hostile path must not make a log line arbitrarily long.
      if (name === wanted && value !== undefined) found[wanted] = value.slice(0, 128);
    }
  });
  return found;
}

/**
 * Gives each request its id (`x-request-id` when the client sent a sane one), then writes one log
 * line and the HTTP metrics once it is answered. Shared by the API and the worker's ops server.
 */
export function observeRequests(logger: Logger, metrics: Metrics | undefined): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : newId('req');
    c.set('requestId', requestId);
    // Set before the handler, so the response is built with it: set on a finished response, it
    // makes @hono/node-server rebuild that response and stream its body (docs/operations.md, "Performance").
    c.header('x-request-id', requestId);
    const started = performance.now();
    await next();
    // A response built without the context (a middleware's own Response) lacks it.
    if (!c.res.headers.has('x-request-id')) c.header('x-request-id', requestId);
    const elapsedMs = performance.now() - started;
    const route = routePattern(c);
    const status = c.res.status;
    metrics?.httpRequest({ route, method: c.req.method, status, durationSeconds: elapsedMs / 1000 });
    const line = {
      requestId,
      method: c.req.method,
      path: c.req.path,
      route,
      status,
      durationMs: Math.round(elapsedMs),
      tenantId: c.get('principal')?.tenantId,
      ...loggedParams(route, c.req.path),
    };
    if (QUIET_ROUTES.has(route) && status < 500) logger.debug(line, 'request');
    else logger.info(line, 'request');
  };
}
