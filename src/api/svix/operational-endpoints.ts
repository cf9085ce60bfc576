/** Svix's `operationalWebhookEndpoint.*` calls: `/api/v1/operational-webhook/endpoint[/{endpoint_id}[/…]]`. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ServiceDeps } from '../../services/deps.ts';
import {
  createOperationalEndpoint,
  deleteOperationalEndpoint,
  getOperationalEndpoint,
  getOperationalEndpointHeaders,
  getOperationalEndpointSecret,
  listOperationalEndpoints,
  rotateOperationalEndpointSecret,
  setOperationalEndpointHeaders,
  upsertOperationalEndpoint,
} from '../../services/operational-endpoints.ts';
import type { ApiEnv } from '../auth.ts';
import { svixValidationHook } from './errors.ts';
import { orderQuery, pageOf, pagingQuery } from './paging.ts';
import {
  EndpointHeadersInSchema,
  EndpointHeadersOutSchema,
  EndpointSecretOutSchema,
  EndpointSecretRotateInSchema,
  json,
  listOf,
  OperationalEndpointInSchema,
  OperationalEndpointOutSchema,
  OperationalEndpointUpsertInSchema,
  PathKey,
  svixErrors,
} from './schemas.ts';

const TAGS = ['Svix: Operational webhook endpoint'];
const BASE = '/operational-webhook/endpoint';
const Params = z.object({ endpoint_id: PathKey('endpoint_id', 'ep_08QAIw9MnoEyeUVwXmXpDng') });

const listRoute = createRoute({
  method: 'get',
  path: BASE,
  tags: TAGS,
  summary: "List the tenant's operational webhook endpoints",
  request: { query: z.object({ ...pagingQuery, ...orderQuery }) },
  responses: {
    200: { description: 'a page of endpoints', ...json(listOf(OperationalEndpointOutSchema, 'ListResponseOperationalWebhookEndpointOut')) },
    ...svixErrors(401, 422),
  },
});

const createEndpointRoute = createRoute({
  method: 'post',
  path: BASE,
  tags: TAGS,
  summary: 'Add an operational webhook endpoint',
  description:
    'It receives the tenant\'s operational events (README, "Delivery control") whose type is in `eventTypes` (or all, when null), signed with its own secret: `secret` when given, else a generated one.',
  request: { body: { required: true, ...json(OperationalEndpointInSchema) } },
  responses: { 201: { description: 'the endpoint', ...json(OperationalEndpointOutSchema) }, ...svixErrors(401, 409, 413, 415, 422) },
});

const getRoute = createRoute({
  method: 'get',
  path: `${BASE}/{endpoint_id}`,
  tags: TAGS,
  summary: 'Get an operational webhook endpoint by id or uid',
  request: { params: Params },
  responses: { 200: { description: 'the endpoint', ...json(OperationalEndpointOutSchema) }, ...svixErrors(401, 404) },
});

const upsertRoute = createRoute({
  method: 'put',
  path: `${BASE}/{endpoint_id}`,
  tags: TAGS,
  summary: 'Create or update an operational webhook endpoint',
  request: { params: Params, body: { required: true, ...json(OperationalEndpointUpsertInSchema) } },
  responses: {
    200: { description: 'the updated endpoint', ...json(OperationalEndpointOutSchema) },
    201: { description: 'the new endpoint', ...json(OperationalEndpointOutSchema) },
    ...svixErrors(401, 404, 409, 413, 415, 422),
  },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: `${BASE}/{endpoint_id}`,
  tags: TAGS,
  summary: 'Delete an operational webhook endpoint',
  request: { params: Params },
  responses: { 204: { description: 'deleted' }, ...svixErrors(401, 404) },
});

const getSecretRoute = createRoute({
  method: 'get',
  path: `${BASE}/{endpoint_id}/secret`,
  tags: TAGS,
  summary: "The operational webhook endpoint's signing secret",
  request: { params: Params },
  responses: { 200: { description: 'the secret', ...json(EndpointSecretOutSchema) }, ...svixErrors(401, 404) },
});

const rotateSecretRoute = createRoute({
  method: 'post',
  path: `${BASE}/{endpoint_id}/secret/rotate`,
  tags: TAGS,
  summary: "Rotate the operational webhook endpoint's signing secret",
  request: { params: Params, body: { required: false, ...json(EndpointSecretRotateInSchema) } },
  responses: { 204: { description: 'rotated' }, ...svixErrors(401, 404, 413, 415, 422) },
});

const getHeadersRoute = createRoute({
  method: 'get',
  path: `${BASE}/{endpoint_id}/headers`,
  tags: TAGS,
  summary: "The operational webhook endpoint's custom headers",
  request: { params: Params },
  responses: { 200: { description: 'the headers', ...json(EndpointHeadersOutSchema) }, ...svixErrors(401, 404) },
});

const setHeadersRoute = createRoute({
  method: 'put',
  path: `${BASE}/{endpoint_id}/headers`,
  tags: TAGS,
  summary: "Replace the operational webhook endpoint's custom headers",
  request: { params: Params, body: { required: true, ...json(EndpointHeadersInSchema) } },
  responses: { 204: { description: 'set' }, ...svixErrors(401, 404, 413, 415, 422) },
});

export function operationalEndpointRoutes(deps: ServiceDeps): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: svixValidationHook });
  const tenant = (c: { get(key: 'principal'): { tenantId: string } }) => c.get('principal').tenantId;

  app.openapi(listRoute, async (c) => c.json(await listOperationalEndpoints(deps, tenant(c), pageOf(c.req.valid('query'), false)), 200));

  app.openapi(createEndpointRoute, async (c) => c.json(await createOperationalEndpoint(deps, tenant(c), c.req.valid('json')), 201));

  app.openapi(getRoute, async (c) => c.json(await getOperationalEndpoint(deps, tenant(c), c.req.valid('param').endpoint_id), 200));

  app.openapi(upsertRoute, async (c) => {
    const { endpoint, created } = await upsertOperationalEndpoint(deps, tenant(c), c.req.valid('param').endpoint_id, c.req.valid('json'));
    return created ? c.json(endpoint, 201) : c.json(endpoint, 200);
  });

  app.openapi(deleteRoute, async (c) => {
    await deleteOperationalEndpoint(deps, tenant(c), c.req.valid('param').endpoint_id);
    return c.body(null, 204);
  });

  app.openapi(getSecretRoute, async (c) =>
    c.json(await getOperationalEndpointSecret(deps, tenant(c), c.req.valid('param').endpoint_id), 200),
  );

  app.openapi(rotateSecretRoute, async (c) => {
    await rotateOperationalEndpointSecret(deps, tenant(c), c.req.valid('param').endpoint_id, c.req.valid('json'));
    return c.body(null, 204);
  });

  app.openapi(getHeadersRoute, async (c) =>
    c.json(await getOperationalEndpointHeaders(deps, tenant(c), c.req.valid('param').endpoint_id), 200),
  );

  app.openapi(setHeadersRoute, async (c) => {
    await setOperationalEndpointHeaders(deps, tenant(c), c.req.valid('param').endpoint_id, c.req.valid('json').headers);
    return c.body(null, 204);
  });

  return app;
}
