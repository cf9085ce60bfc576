/**
 * The HTTP face of an `orbit worker` process: health, readiness and metrics only, so probes and
 * Prometheus reach workers as they reach the API. No `/v1`, no docs: a worker serves no API.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from '../lib/logger.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { observeRequests } from './request-log.ts';
import type { ApiEnv } from './auth.ts';
import { errorResponse, handleError } from './errors.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';

export interface OpsDeps {
  services: Pick<ServiceDeps, 'db' | 'logger' | 'metrics'>;
  logger: Logger;
}

export function createOpsApp(deps: OpsDeps): OpenAPIHono<ApiEnv> {
  const { services, logger } = deps;
  const app = new OpenAPIHono<ApiEnv>();
  app.use('*', observeRequests(logger, services.metrics));
  app.route('/', healthRoutes(services));
  app.route('/', metricsRoutes({ metrics: services.metrics, logger }));
  app.notFound((c) =>
    errorResponse(
      c,
      'not_found',
      `no route for ${c.req.method} ${c.req.path}: this is a delivery worker, which serves /healthz, /readyz and /metrics only`,
    ),
  );
  app.onError((error, c) => handleError(error, c, logger));
  return app;
}
