import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { LIMITS } from '../../domain/limits.ts';
import type { ServiceDeps } from '../../services/deps.ts';
import { cancelRun, createRun, getRun, listRuns, recordEvent } from '../../services/runs.ts';
import { validateEvent, validateRunInput } from '../../services/validation.ts';
import type { ApiEnv } from '../auth.ts';
import {
  CreateRunSchema,
  errorResponses,
  EventAcceptedSchema,
  IdParam,
  IdIteratorQuery,
  LimitQuery,
  pageOf,
  ReportEventSchema,
  RunSchema,
  RunStatusSchema,
  storableText,
  json,
} from '../schemas.ts';
import { validationHook } from '../validation.ts';

const RunIdParams = z.object({ runId: IdParam('runId', 'run_08QAIw9MnoEyeUVwXmXpDng') });

const createRunRoute = createRoute({
  method: 'post',
  path: '/runs',
  tags: ['Runs'],
  summary: 'Create a run',
  description: 'Creates a run in `QUEUED`. With an `Idempotency-Key`, a retried request returns the first response.',
  request: {
    headers: z.object({
      'idempotency-key': z
        .string()
        .min(1)
        .max(LIMITS.idempotencyKeyLength)
        .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII without spaces')
        .optional()
        .openapi({ description: 'makes a retried create return the first response' }),
    }),
    body: { required: true, ...json(CreateRunSchema) },
  },
  responses: {
    201: { description: 'the run', ...json(RunSchema) },
    ...errorResponses(400, 401, 409, 413, 415, 422),
  },
});

const getRunRoute = createRoute({
  method: 'get',
  path: '/runs/{runId}',
  tags: ['Runs'],
  summary: 'Get a run',
  request: { params: RunIdParams },
  responses: { 200: { description: 'the run', ...json(RunSchema) }, ...errorResponses(401, 404) },
});

const listRunsRoute = createRoute({
  method: 'get',
  path: '/runs',
  tags: ['Runs'],
  summary: "List the tenant's runs, newest first",
  request: {
    query: z.object({
      workflowId: storableText(z.string().min(1).max(LIMITS.idLength)).optional(),
      status: RunStatusSchema.optional(),
      limit: LimitQuery,
      iterator: IdIteratorQuery('run'),
    }),
  },
  responses: { 200: { description: 'a page of runs', ...json(pageOf(RunSchema, 'RunPage')) }, ...errorResponses(401, 422) },
});

const reportEventRoute = createRoute({
  method: 'post',
  path: '/runs/{runId}/events',
  tags: ['Runs'],
  summary: 'Report an event of the run',
  description:
    'Applies the event to the run (see the state table in the contract) and, when the webhook subscribes to it, plans a delivery. A refused event records nothing.',
  request: { params: RunIdParams, body: { required: true, ...json(ReportEventSchema) } },
  responses: {
    202: { description: 'the event was accepted and is durable', ...json(EventAcceptedSchema) },
    ...errorResponses(400, 401, 404, 409, 413, 415, 422),
  },
});

const cancelRunRoute = createRoute({
  method: 'post',
  path: '/runs/{runId}/cancel',
  tags: ['Runs'],
  summary: 'Cancel a run',
  description: 'Moves a `QUEUED` or `RUNNING` run to `CANCELED` and emits `run.canceled`.',
  request: { params: RunIdParams },
  responses: { 200: { description: 'the canceled run', ...json(RunSchema) }, ...errorResponses(401, 404, 409) },
});

export function runRoutes(deps: ServiceDeps): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: validationHook });

  app.openapi(createRunRoute, async (c) => {
    const body = c.req.valid('json');
    const tenantId = c.get('principal').tenantId;
    const webhook = validateRunInput(deps.webhookRules, body);
    const key = c.req.valid('header')['idempotency-key'];
    const { run } = await createRun(
      deps,
      tenantId,
      { workflowId: body.workflowId, webhook: webhook ?? undefined, input: body.input },
      key ? { key, rawBody: JSON.stringify(body) } : undefined,
    );
    return c.json(run, 201);
  });

  app.openapi(listRunsRoute, async (c) => {
    const query = c.req.valid('query');
    const page = await listRuns(deps, c.get('principal').tenantId, query);
    return c.json(page, 200);
  });

  app.openapi(getRunRoute, async (c) => c.json(await getRun(deps, c.get('principal').tenantId, c.req.valid('param').runId), 200));

  app.openapi(reportEventRoute, async (c) => {
    const event = c.req.valid('json');
    validateEvent(event);
    const accepted = await recordEvent(deps, c.get('principal').tenantId, c.req.valid('param').runId, event);
    deps.metrics?.eventAccepted(event.type);
    return c.json(accepted, 202);
  });

  app.openapi(cancelRunRoute, async (c) => {
    const run = await cancelRun(deps, c.get('principal').tenantId, c.req.valid('param').runId);
    // Cancelling records a run.canceled event like any reported one.
    deps.metrics?.eventAccepted('run.canceled');
    return c.json(run, 200);
  });

  return app;
}
