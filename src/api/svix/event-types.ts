/** Svix's `eventType.*` calls: `/api/v1/event-type[/{event_type_name}]`. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ServiceDeps } from '../../services/deps.ts';
import {
  createEventType,
  deleteEventType,
  getEventType,
  listEventTypes,
  patchEventType,
  upsertEventType,
} from '../../services/event-types.ts';
import type { ApiEnv } from '../auth.ts';
import { svixValidationHook } from './errors.ts';
import { BooleanQuery, orderQuery, pageOf, pagingQuery } from './paging.ts';
import {
  EventTypeInSchema,
  EventTypeOutSchema,
  EventTypePatchSchema,
  EventTypeUpsertInSchema,
  featureFlagOf,
  json,
  listOf,
  PathKey,
  svixErrors,
} from './schemas.ts';

const TAGS = ['Svix: Event Type'];
const NameParams = z.object({ event_type_name: PathKey('event_type_name', 'user.signup') });

const listRoute = createRoute({
  method: 'get',
  path: '/event-type',
  tags: TAGS,
  summary: "List the tenant's event types, by name",
  description: 'Archived ones only with `include_archived=true`; `schemas` only with `with_content=true`.',
  request: { query: z.object({ ...pagingQuery, ...orderQuery, include_archived: BooleanQuery, with_content: BooleanQuery }) },
  responses: {
    200: { description: 'a page of event types', ...json(listOf(EventTypeOutSchema, 'ListResponseEventTypeOut')) },
    ...svixErrors(401, 422),
  },
});

const createTypeRoute = createRoute({
  method: 'post',
  path: '/event-type',
  tags: TAGS,
  summary: 'Create an event type (or bring back an archived one)',
  request: { body: { required: true, ...json(EventTypeInSchema) } },
  responses: { 201: { description: 'the event type', ...json(EventTypeOutSchema) }, ...svixErrors(401, 409, 413, 415, 422) },
});

const getRoute = createRoute({
  method: 'get',
  path: '/event-type/{event_type_name}',
  tags: TAGS,
  summary: 'Get an event type',
  request: { params: NameParams },
  responses: { 200: { description: 'the event type', ...json(EventTypeOutSchema) }, ...svixErrors(401, 404) },
});

const upsertRoute = createRoute({
  method: 'put',
  path: '/event-type/{event_type_name}',
  tags: TAGS,
  summary: 'Create or update an event type',
  request: { params: NameParams, body: { required: true, ...json(EventTypeUpsertInSchema) } },
  responses: {
    200: { description: 'the updated event type', ...json(EventTypeOutSchema) },
    201: { description: 'the new event type', ...json(EventTypeOutSchema) },
    ...svixErrors(401, 413, 415, 422),
  },
});

const patchRoute = createRoute({
  method: 'patch',
  path: '/event-type/{event_type_name}',
  tags: TAGS,
  summary: 'Change some fields of an event type',
  request: { params: NameParams, body: { required: true, ...json(EventTypePatchSchema) } },
  responses: { 200: { description: 'the event type', ...json(EventTypeOutSchema) }, ...svixErrors(401, 404, 413, 415, 422) },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/event-type/{event_type_name}',
  tags: TAGS,
  summary: 'Archive an event type (or delete it with `expunge=true`)',
  description:
    'An archived event type is hidden from lists and endpoints can no longer start filtering on it; endpoints already filtering on it keep their filter. Creating it again brings it back.',
  request: { params: NameParams, query: z.object({ expunge: BooleanQuery }) },
  responses: { 204: { description: 'archived or deleted' }, ...svixErrors(401, 404, 422) },
});

export function eventTypeRoutes(deps: ServiceDeps): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: svixValidationHook });

  app.openapi(listRoute, async (c) => {
    const query = c.req.valid('query');
    const page = await listEventTypes(deps, c.get('principal').tenantId, pageOf(query, true), {
      includeArchived: query.include_archived === true,
      withContent: query.with_content === true,
    });
    return c.json(page, 200);
  });

  app.openapi(createTypeRoute, async (c) => {
    const body = c.req.valid('json');
    const eventType = await createEventType(deps, c.get('principal').tenantId, body.name, { ...body, featureFlag: featureFlagOf(body) });
    return c.json(eventType, 201);
  });

  app.openapi(getRoute, async (c) =>
    c.json(await getEventType(deps, c.get('principal').tenantId, c.req.valid('param').event_type_name), 200),
  );

  app.openapi(upsertRoute, async (c) => {
    const body = c.req.valid('json');
    const { eventType, created } = await upsertEventType(deps, c.get('principal').tenantId, c.req.valid('param').event_type_name, {
      ...body,
      featureFlag: featureFlagOf(body),
    });
    return created ? c.json(eventType, 201) : c.json(eventType, 200);
  });

  app.openapi(patchRoute, async (c) => {
    const body = c.req.valid('json');
    const eventType = await patchEventType(deps, c.get('principal').tenantId, c.req.valid('param').event_type_name, {
      ...body,
      featureFlag: featureFlagOf(body),
    });
    return c.json(eventType, 200);
  });

  app.openapi(deleteRoute, async (c) => {
    await deleteEventType(deps, c.get('principal').tenantId, c.req.valid('param').event_type_name, {
      expunge: c.req.valid('query').expunge === true,
    });
    return c.body(null, 204);
  });

  return app;
}
