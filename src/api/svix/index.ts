/**
 * The Svix-compatible API under `/api/v1` (README, "Coming from Svix"): the official Svix SDKs, pointed at Orbit
 * with `serverUrl` and an Orbit API key, work unchanged. A tenant is Svix's organisation. These
 * routes answer in Svix's shapes (errors included); `/api/v1/runs…` and `/api/v1/admin…` are
 * Orbit's own routes, served beside them with Orbit's envelope.
 */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../../lib/logger.ts';
import type { ServiceDeps } from '../../services/deps.ts';
import { checkDatabase } from '../../services/health.ts';
import { authenticate } from '../../services/tenants.ts';
import type { ApiEnv } from '../auth.ts';
import { applicationRoutes } from './applications.ts';
import { attemptRoutes } from './attempts.ts';
import { authRoutes } from './auth.ts';
import { endpointRoutes } from './endpoints.ts';
import { handleSvixError, svixError, svixNotImplemented } from './errors.ts';
import { eventTypeRoutes } from './event-types.ts';
import { idempotency } from './idempotency.ts';
import { messageRoutes } from './messages.ts';
import { operationalEndpointRoutes } from './operational-endpoints.ts';
import { HttpErrorSchema, json } from './schemas.ts';

/** Orbit's own routes re-served under `/api/v1` for clients of the hosted API (Orbit's envelope). */
const ORBIT_PATHS = /^\/api\/v1\/(?:runs|admin)(?:\/|$)/;
const PUBLIC_PATHS = /^\/api\/v1\/health\/?$/;

/** Whether a path belongs to the Svix-compatible API (and so answers in Svix's shapes). */
export function isSvixPath(path: string): boolean {
  return (path === '/api/v1' || path.startsWith('/api/v1/') || path.startsWith('/ingest/')) && !ORBIT_PATHS.test(path);
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** `Authorization: Bearer gx_…` → the key's principal, or a Svix-shaped 401. */
function requireKey(deps: ServiceDeps): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (!isSvixPath(c.req.path) || PUBLIC_PATHS.test(c.req.path)) return next();
    const apiKey = BEARER.exec(c.req.header('authorization') ?? '')?.[1];
    if (!apiKey) return svixError(c, 401, 'authentication_failed', 'an API key is required: Authorization: Bearer <key>');
    const principal = apiKey.length > 512 ? null : await authenticate(deps, apiKey);
    if (!principal) return svixError(c, 401, 'authentication_failed', 'Incorrect authentication credentials.');
    c.set('principal', principal);
    return next();
  };
}

/** Svix routes that Orbit knows but does not implement: 501 rather than a silent 404. */
const NOT_IMPLEMENTED: ReadonlyArray<[method: string, path: string]> = [
  ['POST', '/app/:app_id/endpoint/:endpoint_id/bulk-replay'],
  ['POST', '/app/:app_id/endpoint/:endpoint_id/replay-missing'],
  ['GET', '/app/:app_id/endpoint/:endpoint_id/transformation'],
  ['PATCH', '/app/:app_id/endpoint/:endpoint_id/transformation'],
  ['POST', '/app/:app_id/msg/bulk-expunge'],
  ['POST', '/app/:app_id/msg/expunge-all-contents'],
  ['POST', '/app/:app_id/msg/precheck/active'],
  ['POST', '/event-type/import/openapi'],
];

const healthRoute = createRoute({
  method: 'get',
  path: '/health',
  tags: ['Svix: Health'],
  summary: 'The API is up and its database reachable (no key needed)',
  responses: { 204: { description: 'healthy' }, 503: { description: '`service_unavailable`', ...json(HttpErrorSchema) } },
});

/**
 * Mount at `/api/v1`, before Orbit's re-served `/api/v1` routes. `publicUrl` (ORBIT_PUBLIC_URL) is
 * the origin of app portal links; without it, the address each request came to.
 */
export function svixRoutes(deps: ServiceDeps, logger: Logger, publicUrl?: string): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>();
  app.use('*', requireKey(deps));
  const idempotent = idempotency(deps);
  app.use('*', async (c, next) => (isSvixPath(c.req.path) ? idempotent(c, next) : next()));

  app.openapi(healthRoute, async (c) => {
    try {
      await checkDatabase(deps, 2_000);
      return c.body(null, 204);
    } catch (error) {
      logger.warn({ err: error }, 'health check failed');
      return c.json({ code: 'service_unavailable', detail: 'the database is unreachable' }, 503);
    }
  });
  app.route('/', applicationRoutes(deps));
  app.route('/', eventTypeRoutes(deps));
  app.route('/', endpointRoutes(deps));
  app.route('/', messageRoutes(deps));
  app.route('/', attemptRoutes(deps));
  app.route('/', operationalEndpointRoutes(deps));
  app.route('/', authRoutes(deps, publicUrl));
  for (const [method, path] of NOT_IMPLEMENTED) app.on(method, path, (c) => svixNotImplemented(c));
  // Any other Svix path (streams, connectors, integrations, …) falls through to the app's notFound,
  // which answers Svix's 404 for it (isSvixPath): routes mounted later under /api/v1 still answer.

  app.onError((error, c) => handleSvixError(error, c, logger));
  return app;
}
