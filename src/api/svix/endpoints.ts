/** Svix's `endpoint.*` calls: `/api/v1/app/{app_id}/endpoint[/{endpoint_id}[/…]]`. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ServiceDeps } from '../../services/deps.ts';
import {
  changeEndpointHeaders,
  createEndpoint,
  deleteEndpoint,
  endpointStats,
  getEndpoint,
  getEndpointHeaders,
  getEndpointSecret,
  listEndpoints,
  patchEndpoint,
  recoverEndpoint,
  rotateEndpointSecret,
  sendExample,
  upsertEndpoint,
} from '../../services/endpoints.ts';
import { acceptedMessageView } from '../../services/app-messages.ts';
import type { ApiEnv } from '../auth.ts';
import { svixValidationHook } from './errors.ts';
import { DateQuery, orderQuery, pageOf, pagingQuery } from './paging.ts';
import {
  EndpointHeadersInSchema,
  EndpointHeadersOutSchema,
  EndpointHeadersPatchInSchema,
  EndpointInSchema,
  EndpointOutSchema,
  EndpointPatchSchema,
  EndpointSecretOutSchema,
  EndpointSecretRotateInSchema,
  EndpointStatsSchema,
  EndpointUpdateSchema,
  eventTypesOf,
  EventExampleInSchema,
  json,
  listOf,
  MessageOutSchema,
  PathKey,
  RecoverInSchema,
  RecoverOutSchema,
  svixErrors,
  throttleRateOf,
} from './schemas.ts';

const TAGS = ['Svix: Endpoint'];
const AppParams = z.object({ app_id: PathKey('app_id', 'app_08QAIw9MnoEyeUVwXmXpDng') });
const EndpointParams = AppParams.extend({ endpoint_id: PathKey('endpoint_id', 'ep_08QAIw9MnoEyeUVwXmXpDng') });
const BASE = '/app/{app_id}/endpoint/{endpoint_id}';

const listRoute = createRoute({
  method: 'get',
  path: '/app/{app_id}/endpoint',
  tags: TAGS,
  summary: "List the application's endpoints",
  description: 'Newest first unless `order=ascending`.',
  request: { params: AppParams, query: z.object({ ...pagingQuery, ...orderQuery }) },
  responses: {
    200: { description: 'a page of endpoints', ...json(listOf(EndpointOutSchema, 'ListResponseEndpointOut')) },
    ...svixErrors(401, 404, 422),
  },
});

const createEndpointRoute = createRoute({
  method: 'post',
  path: '/app/{app_id}/endpoint',
  tags: TAGS,
  summary: 'Add an endpoint',
  description:
    'It receives every message created from now on whose event type is in `eventTypes` (or any, when null) and whose channels overlap `channels` (or any, when null), while it is not `disabled`. It signs with its own secret: `secret` when given, else a generated one (read it with `GET …/secret`). `filterTypes` is accepted as the older name of `eventTypes`; every name must be an event type of the tenant.',
  request: { params: AppParams, body: { required: true, ...json(EndpointInSchema) } },
  responses: { 201: { description: 'the endpoint', ...json(EndpointOutSchema) }, ...svixErrors(401, 404, 409, 413, 415, 422) },
});

const getRoute = createRoute({
  method: 'get',
  path: BASE,
  tags: TAGS,
  summary: 'Get an endpoint by id or uid',
  request: { params: EndpointParams },
  responses: { 200: { description: 'the endpoint', ...json(EndpointOutSchema) }, ...svixErrors(401, 404) },
});

const upsertRoute = createRoute({
  method: 'put',
  path: BASE,
  tags: TAGS,
  summary: 'Create or update an endpoint',
  description:
    'Replaces its fields (its secret and headers stay); a path naming a uid not in use creates the endpoint with that uid (201). An unknown id is a 404.',
  request: { params: EndpointParams, body: { required: true, ...json(EndpointUpdateSchema) } },
  responses: {
    200: { description: 'the updated endpoint', ...json(EndpointOutSchema) },
    201: { description: 'the new endpoint', ...json(EndpointOutSchema) },
    ...svixErrors(401, 404, 409, 413, 415, 422),
  },
});

const patchRoute = createRoute({
  method: 'patch',
  path: BASE,
  tags: TAGS,
  summary: 'Change some fields of an endpoint (e.g. `disabled`)',
  description: 'A disabled endpoint receives no new messages; its pending deliveries end `failed` when their next attempt comes.',
  request: { params: EndpointParams, body: { required: true, ...json(EndpointPatchSchema) } },
  responses: { 200: { description: 'the endpoint', ...json(EndpointOutSchema) }, ...svixErrors(401, 404, 409, 413, 415, 422) },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: BASE,
  tags: TAGS,
  summary: 'Delete an endpoint',
  description:
    'It receives nothing more and its pending deliveries end `failed`; the delivery log keeps its attempts. Its uid can be used again.',
  request: { params: EndpointParams },
  responses: { 204: { description: 'deleted' }, ...svixErrors(401, 404) },
});

const getSecretRoute = createRoute({
  method: 'get',
  path: `${BASE}/secret`,
  tags: TAGS,
  summary: "The endpoint's current signing secret",
  request: { params: EndpointParams },
  responses: { 200: { description: 'the secret', ...json(EndpointSecretOutSchema) }, ...svixErrors(401, 404) },
});

const rotateSecretRoute = createRoute({
  method: 'post',
  path: `${BASE}/secret/rotate`,
  tags: TAGS,
  summary: "Rotate the endpoint's signing secret",
  description:
    'A new current secret (`key` when given, else generated). The secrets valid before keep signing for `gracePeriodSeconds` (default 24 hours): meanwhile every delivery carries one signature per valid secret.',
  request: { params: EndpointParams, body: { required: false, ...json(EndpointSecretRotateInSchema) } },
  responses: { 204: { description: 'rotated' }, ...svixErrors(401, 404, 413, 415, 422) },
});

const getHeadersRoute = createRoute({
  method: 'get',
  path: `${BASE}/headers`,
  tags: TAGS,
  summary: "The endpoint's custom headers",
  description: 'Values of sensitive headers (authorization, x-api-key, …) are left out and named in `sensitive`.',
  request: { params: EndpointParams },
  responses: { 200: { description: 'the headers', ...json(EndpointHeadersOutSchema) }, ...svixErrors(401, 404) },
});

const setHeadersRoute = createRoute({
  method: 'put',
  path: `${BASE}/headers`,
  tags: TAGS,
  summary: "Replace the endpoint's custom headers",
  request: { params: EndpointParams, body: { required: true, ...json(EndpointHeadersInSchema) } },
  responses: { 204: { description: 'set' }, ...svixErrors(401, 404, 413, 415, 422) },
});

const patchHeadersRoute = createRoute({
  method: 'patch',
  path: `${BASE}/headers`,
  tags: TAGS,
  summary: "Change some of the endpoint's custom headers",
  description: 'Sets the headers given; a `null` value or a name in `deleteHeaders` removes one.',
  request: { params: EndpointParams, body: { required: true, ...json(EndpointHeadersPatchInSchema) } },
  responses: { 204: { description: 'changed' }, ...svixErrors(401, 404, 413, 415, 422) },
});

const statsRoute = createRoute({
  method: 'get',
  path: `${BASE}/stats`,
  tags: TAGS,
  summary: "The endpoint's deliveries by status",
  description: 'Deliveries created in [`since`, `until`) (default: the last 28 days). `sending`: a retry is planned.',
  request: { params: EndpointParams, query: z.object({ since: DateQuery, until: DateQuery }) },
  responses: { 200: { description: 'counts', ...json(EndpointStatsSchema) }, ...svixErrors(401, 404, 422) },
});

const recoverRoute = createRoute({
  method: 'post',
  path: `${BASE}/recover`,
  tags: TAGS,
  summary: "Re-send the endpoint's failed messages since a time",
  description:
    'Every delivery to this endpoint that ended `failed`, of a message created in [`since`, `until`), gets a fresh attempt (logged as scheduled, `triggerType` 0) and its retry schedule again if that fails. Answers at once; the work runs in the background.',
  request: { params: EndpointParams, body: { required: true, ...json(RecoverInSchema) } },
  responses: { 202: { description: 'the re-queueing has started', ...json(RecoverOutSchema) }, ...svixErrors(401, 404, 413, 415, 422) },
});

const sendExampleRoute = createRoute({
  method: 'post',
  path: `${BASE}/send-example`,
  tags: TAGS,
  summary: 'Send an example message of an event type to this endpoint',
  description:
    'The payload is the event type schema\'s example (`examples[exampleIndex]` of version 1), else `{"example":true}`; `svix.ping` sends `{"success":true}` without being declared.',
  request: { params: EndpointParams, body: { required: true, ...json(EventExampleInSchema) } },
  responses: { 200: { description: 'the message sent', ...json(MessageOutSchema) }, ...svixErrors(401, 404, 413, 415, 422) },
});

export function endpointRoutes(deps: ServiceDeps): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: svixValidationHook });
  const tenant = (c: { get(key: 'principal'): { tenantId: string } }) => c.get('principal').tenantId;

  app.openapi(listRoute, async (c) => {
    const page = await listEndpoints(deps, tenant(c), c.req.valid('param').app_id, pageOf(c.req.valid('query'), false));
    return c.json(page, 200);
  });

  app.openapi(createEndpointRoute, async (c) => {
    const body = c.req.valid('json');
    const endpoint = await createEndpoint(deps, tenant(c), c.req.valid('param').app_id, {
      ...body,
      eventTypes: eventTypesOf(body),
      throttleRate: throttleRateOf(body),
    });
    return c.json(endpoint, 201);
  });

  app.openapi(getRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    return c.json(await getEndpoint(deps, tenant(c), app_id, endpoint_id), 200);
  });

  app.openapi(upsertRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    const body = c.req.valid('json');
    const { endpoint, created } = await upsertEndpoint(deps, tenant(c), app_id, endpoint_id, {
      ...body,
      eventTypes: eventTypesOf(body),
      throttleRate: throttleRateOf(body),
    });
    return created ? c.json(endpoint, 201) : c.json(endpoint, 200);
  });

  app.openapi(patchRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    const body = c.req.valid('json');
    const endpoint = await patchEndpoint(deps, tenant(c), app_id, endpoint_id, {
      ...body,
      eventTypes: eventTypesOf(body),
      throttleRate: throttleRateOf(body),
    });
    return c.json(endpoint, 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    await deleteEndpoint(deps, tenant(c), app_id, endpoint_id);
    return c.body(null, 204);
  });

  app.openapi(getSecretRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    return c.json(await getEndpointSecret(deps, tenant(c), app_id, endpoint_id), 200);
  });

  app.openapi(rotateSecretRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    await rotateEndpointSecret(deps, tenant(c), app_id, endpoint_id, c.req.valid('json'));
    return c.body(null, 204);
  });

  app.openapi(getHeadersRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    return c.json(await getEndpointHeaders(deps, tenant(c), app_id, endpoint_id), 200);
  });

  app.openapi(setHeadersRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    await changeEndpointHeaders(deps, tenant(c), app_id, endpoint_id, { replace: c.req.valid('json').headers });
    return c.body(null, 204);
  });

  app.openapi(patchHeadersRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    const body = c.req.valid('json');
    await changeEndpointHeaders(deps, tenant(c), app_id, endpoint_id, { patch: body.headers, remove: body.deleteHeaders ?? [] });
    return c.body(null, 204);
  });

  app.openapi(statsRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    return c.json(await endpointStats(deps, tenant(c), app_id, endpoint_id, c.req.valid('query')), 200);
  });

  app.openapi(recoverRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    const body = c.req.valid('json');
    const {
      recovered: _recovered,
      finished: _finished,
      ...task
    } = await recoverEndpoint(deps, tenant(c), app_id, endpoint_id, {
      since: body.since,
      until: body.until ?? undefined,
    });
    return c.json(task, 202);
  });

  app.openapi(sendExampleRoute, async (c) => {
    const { app_id, endpoint_id } = c.req.valid('param');
    const message = await sendExample(deps, tenant(c), app_id, endpoint_id, c.req.valid('json'));
    return c.json(acceptedMessageView(message, true), 200);
  });

  return app;
}
