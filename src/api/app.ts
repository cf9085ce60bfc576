import { OpenAPIHono } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { LIMITS } from '../domain/limits.ts';
import type { Logger } from '../lib/logger.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { authenticate } from '../services/tenants.ts';
import { uiRoutes } from '../ui/app.ts';
import { requireAdmin, requireApiKey, type ApiEnv } from './auth.ts';
import { limitRequestBody } from './body-limit.ts';
import { requireUtf8Json } from './utf8-body.ts';
import { errorResponse, handleError } from './errors.ts';
import { observeRequests } from './request-log.ts';
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

/** The HTTP API: `/v1` (and `/api/v1` for clients of the hosted API), health, OpenAPI and docs. */
export function createApp(deps: ApiDeps): OpenAPIHono<ApiEnv> {
  const { services, logger } = deps;
  const app = new OpenAPIHono<ApiEnv>();

  app.use('*', observeRequests(logger, services.metrics));
  // Refuses bodies over 1 MiB from Content-Length, or while streaming, before they are buffered whole.
  app.use(
    '*',
    limitRequestBody({
      maxSize: LIMITS.requestBodyBytes,
      onError: (c) =>
        isSvixPath(c.req.path)
          ? payloadTooLargeAfterDrain(c)
          : errorResponse(c, 'payload_too_large', 'the request body is larger than 1 MiB'),
    }),
  );

  app.use('*', requireUtf8Json());

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
