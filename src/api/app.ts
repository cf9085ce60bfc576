import { OpenAPIHono } from '@hono/zod-openapi';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { matchedRoutes } from 'hono/route';
import { LIMITS } from '../domain/limits.ts';
import { newId } from '../lib/ids.ts';
import type { Logger } from '../lib/logger.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { authenticate } from '../services/tenants.ts';
import { uiRoutes } from '../ui/app.ts';
import { requireAdmin, requireApiKey, type ApiEnv } from './auth.ts';
import { errorResponse, handleError } from './errors.ts';
import { adminTenantRoutes } from './routes/admin.ts';
import { adminLogRoutes } from './routes/admin-log.ts';
import { adminPortalRoutes } from './routes/admin-portal.ts';
import { deliveryRoutes } from './routes/deliveries.ts';
import { docsRoutes } from './routes/docs.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { runRoutes } from './routes/runs.ts';
import { payloadTooLargeAfterDrain, svixNotFound } from './svix/errors.ts';
import { isSvixPath, svixRoutes } from './svix/index.ts';

export interface ApiDeps {
  services: ServiceDeps;
  logger: Logger;
  version: string;
  /** ORBIT_PUBLIC_URL: portal links and the console's origin check; the request's own origin when absent. */
  publicUrl?: string | undefined;
}

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
    const started = performance.now();
    await next();
    c.header('x-request-id', requestId);
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

/** The HTTP API: `/v1` (and `/api/v1` for clients of the hosted API), health, OpenAPI and docs. */
export function createApp(deps: ApiDeps): OpenAPIHono<ApiEnv> {
  const { services, logger } = deps;
  const app = new OpenAPIHono<ApiEnv>();

  app.use('*', observeRequests(logger, services.metrics));
  // Refuses bodies over 1 MiB from Content-Length, or while streaming, before they are buffered whole.
  app.use(
    '*',
    bodyLimit({
      maxSize: LIMITS.requestBodyBytes,
      onError: (c) =>
        isSvixPath(c.req.path)
          ? payloadTooLargeAfterDrain(c)
          : errorResponse(c, 'payload_too_large', 'the request body is larger than 1 MiB'),
    }),
  );

  app.route('/', healthRoutes(services));
  app.route('/', metricsRoutes({ metrics: services.metrics, logger }));

  const v1 = new OpenAPIHono<ApiEnv>();
  v1.use(
    '*',
    requireApiKey((apiKey) => authenticate(services, apiKey)),
  );
  v1.use('/admin/*', requireAdmin);
  v1.route('/', runRoutes(services));
  v1.route('/', deliveryRoutes(services));
  v1.route('/', adminTenantRoutes(services));
  v1.route('/', adminLogRoutes(services));
  v1.route('/', adminPortalRoutes(services, deps.publicUrl));
  app.route('/v1', v1);
  // The Svix-compatible API (its own auth, errors and idempotency); it passes Orbit's paths on.
  app.route('/api/v1', svixRoutes(services, logger, deps.publicUrl));
  // The same routes for clients written against the hosted API; left out of the OpenAPI document.
  app.route('/', new Hono<ApiEnv>().route('/api/v1', v1));

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Orbit',
      version: deps.version,
      description:
        "Self-hosted webhook delivery for workflow runs. Every `/v1` route is also served under `/api/v1`. The `/api/v1/app…`, `/api/v1/event-type…` and `/api/v1/health` routes are the Svix-compatible API (Svix's shapes and errors; the official Svix SDKs work with `serverUrl` set to Orbit). Authenticate with `Authorization: Bearer <api key>`.",
    },
    security: [{ apiKey: [] }],
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'an Orbit API key (gx_…)',
  });
  app.route('/', docsRoutes());
  // The console (/ui) and the portal (/portal): HTML pages with their own sessions and errors.
  app.route('/', uiRoutes({ services, logger, publicUrl: deps.publicUrl }));

  app.notFound((c) =>
    isSvixPath(c.req.path)
      ? svixNotFound(c, `Orbit has no ${c.req.method} ${c.req.path}`)
      : errorResponse(c, 'not_found', `no route for ${c.req.method} ${c.req.path}`),
  );
  app.onError((error, c) => handleError(error, c, logger));
  return app;
}
