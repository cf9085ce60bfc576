import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ServiceDeps } from '../../services/deps.ts';
import { checkDatabase } from '../../services/health.ts';
import type { ApiEnv } from '../auth.ts';
import { errorResponse } from '../errors.ts';
import { ErrorSchema } from '../schemas.ts';

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['Operations'],
  summary: 'The process is up',
  responses: { 200: { description: 'up', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  tags: ['Operations'],
  summary: 'The database is reachable',
  responses: {
    200: { description: 'ready', content: { 'application/json': { schema: z.object({ status: z.literal('ready') }) } } },
    503: { description: '`service_unavailable`', content: { 'application/json': { schema: ErrorSchema } } },
  },
});

const READY_TIMEOUT_MS = 2_000;

export function healthRoutes(deps: Pick<ServiceDeps, 'db' | 'logger'>): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>();
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(readyz, async (c) => {
    try {
      await checkDatabase(deps, READY_TIMEOUT_MS);
      return c.json({ status: 'ready' as const }, 200);
    } catch (error) {
      deps.logger.warn({ err: error }, 'readiness check failed');
      return errorResponse(c, 'service_unavailable', 'the database is unreachable') as never;
    }
  });
  return app;
}
