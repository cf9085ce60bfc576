/** `GET /v1/runs/{runId}/deliveries`: a run's messages with their attempts, for the tenant owning the run. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { listRunDeliveries } from '../../services/delivery-log.ts';
import type { ServiceDeps } from '../../services/deps.ts';
import type { ApiEnv } from '../auth.ts';
import { errorResponses, IdParam, json, LimitQuery, pageOf } from '../schemas.ts';
import { validationHook } from '../validation.ts';
import { LogIteratorQuery, MessageWithAttemptsSchema } from './log-schemas.ts';

const runDeliveriesRoute = createRoute({
  method: 'get',
  path: '/runs/{runId}/deliveries',
  tags: ['Runs'],
  summary: "The run's deliveries: its messages, newest first, each with its attempts (oldest first)",
  request: {
    params: z.object({ runId: IdParam('runId', 'run_08QAIw9MnoEyeUVwXmXpDng') }),
    query: z.object({ limit: LimitQuery, iterator: LogIteratorQuery }),
  },
  responses: {
    200: { description: 'a page of messages with attempts', ...json(pageOf(MessageWithAttemptsSchema, 'DeliveryPage')) },
    ...errorResponses(401, 404, 422),
  },
});

/** Mount under `/v1`, like the runs routes (tenant scope). */
export function deliveryRoutes(deps: ServiceDeps): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: validationHook });
  app.openapi(runDeliveriesRoute, async (c) => {
    const { limit, iterator } = c.req.valid('query');
    const page = await listRunDeliveries(deps, c.get('principal').tenantId, c.req.valid('param').runId, {
      limit,
      iterator,
    });
    return c.json(page, 200);
  });
  return app;
}
