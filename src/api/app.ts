import { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { LIMITS } from '../domain/limits.ts';
import { newId } from '../lib/ids.ts';
import type { Logger } from '../lib/logger.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { authenticate } from '../services/tenants.ts';
import { requireAdmin, requireApiKey, type ApiEnv } from './auth.ts';
import { errorResponse, handleError } from './errors.ts';
import { adminTenantRoutes } from './routes/admin.ts';
import { adminLogRoutes } from './routes/admin-log.ts';
import { deliveryRoutes } from './routes/deliveries.ts';
import { healthRoutes } from './routes/health.ts';
import { runRoutes } from './routes/runs.ts';

export interface ApiDeps {
  services: ServiceDeps;
  logger: Logger;
  version: string;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The HTTP API: `/v1` (and `/api/v1` for clients of the hosted API), health, OpenAPI and docs. */
export function createApp(deps: ApiDeps): OpenAPIHono<ApiEnv> {
  const { services, logger } = deps;
  const app = new OpenAPIHono<ApiEnv>();

  app.use('*', async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : newId('req');
    c.set('requestId', requestId);
    const started = performance.now();
    await next();
    c.header('x-request-id', requestId);
    logger.info(
      {
        requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        durationMs: Math.round(performance.now() - started),
        tenantId: c.get('principal')?.tenantId,
      },
      'request',
    );
  });
  // Refuses bodies over 1 MiB from Content-Length, or while streaming, before they are buffered whole.
  app.use('*', bodyLimit({ maxSize: LIMITS.requestBodyBytes, onError: (c) => errorResponse(c, 'payload_too_large', 'the request body is larger than 1 MiB') }));

  app.route('/', healthRoutes(services));

  const v1 = new OpenAPIHono<ApiEnv>();
  v1.use('*', requireApiKey((apiKey) => authenticate(services, apiKey)));
  v1.use('/admin/*', requireAdmin);
  v1.route('/', runRoutes(services));
  v1.route('/', deliveryRoutes(services));
  v1.route('/', adminTenantRoutes(services));
  v1.route('/', adminLogRoutes(services));
  app.route('/v1', v1);
  // The same routes for clients written against the hosted API; left out of the OpenAPI document.
  app.route('/', new Hono<ApiEnv>().route('/api/v1', v1));

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Orbit',
      version: deps.version,
      description:
        'Self-hosted webhook delivery for workflow runs. Every `/v1` route is also served under `/api/v1`. Authenticate with `Authorization: Bearer <api key>`.',
    },
    security: [{ apiKey: [] }],
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer', description: 'an Orbit API key (gx_…)' });
  app.get('/docs', Scalar({ url: '/openapi.json', pageTitle: 'Orbit API' }));

  app.notFound((c) => errorResponse(c, 'not_found', `no route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => handleError(error, c, logger));
  return app;
}
