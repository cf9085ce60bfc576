/** Svix's `application.*` calls: `/api/v1/app[/{app_id}]`. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import {
  createApplication,
  deleteApplication,
  getApplication,
  listApplications,
  patchApplication,
  upsertApplication,
} from '../../services/applications.ts';
import type { ServiceDeps } from '../../services/deps.ts';
import type { ApiEnv } from '../auth.ts';
import { svixValidationHook } from './errors.ts';
import { BooleanQuery, orderQuery, pageOf, pagingQuery } from './paging.ts';
import {
  ApplicationInSchema,
  ApplicationOutSchema,
  ApplicationPatchSchema,
  json,
  listOf,
  PathKey,
  svixErrors,
  throttleRateOf,
} from './schemas.ts';

const TAGS = ['Svix: Application'];
const AppParams = z.object({ app_id: PathKey('app_id', 'app_08QAIw9MnoEyeUVwXmXpDng') });

const listRoute = createRoute({
  method: 'get',
  path: '/app',
  tags: TAGS,
  summary: "List the tenant's applications",
  description:
    'Oldest first unless `order=descending`. `exclude_apps_with_svix_play_endpoints` is accepted and excludes nothing (Orbit has no Svix Play endpoints).',
  request: {
    query: z.object({
      ...pagingQuery,
      ...orderQuery,
      exclude_apps_with_no_endpoints: BooleanQuery,
      exclude_apps_with_disabled_endpoints: BooleanQuery,
      exclude_apps_with_svix_play_endpoints: BooleanQuery,
    }),
  },
  responses: {
    200: { description: 'a page of applications', ...json(listOf(ApplicationOutSchema, 'ListResponseApplicationOut')) },
    ...svixErrors(401, 422),
  },
});

const createAppRoute = createRoute({
  method: 'post',
  path: '/app',
  tags: TAGS,
  summary: 'Create an application',
  description: 'A `uid` already used in the tenant is a 409, or with `get_if_exists=true` answers that application (200).',
  request: {
    query: z.object({ get_if_exists: BooleanQuery }),
    body: { required: true, ...json(ApplicationInSchema) },
  },
  responses: {
    201: { description: 'the new application', ...json(ApplicationOutSchema) },
    200: { description: 'the existing application (`get_if_exists`)', ...json(ApplicationOutSchema) },
    ...svixErrors(401, 409, 413, 415, 422),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/app/{app_id}',
  tags: TAGS,
  summary: 'Get an application by id or uid',
  request: { params: AppParams },
  responses: { 200: { description: 'the application', ...json(ApplicationOutSchema) }, ...svixErrors(401, 404) },
});

const upsertRoute = createRoute({
  method: 'put',
  path: '/app/{app_id}',
  tags: TAGS,
  summary: 'Create or update an application',
  description: 'Replaces its fields; a path naming a uid not in use creates the application with that uid (201). An unknown id is a 404.',
  request: { params: AppParams, body: { required: true, ...json(ApplicationInSchema) } },
  responses: {
    200: { description: 'the updated application', ...json(ApplicationOutSchema) },
    201: { description: 'the new application', ...json(ApplicationOutSchema) },
    ...svixErrors(401, 404, 409, 413, 415, 422),
  },
});

const patchRoute = createRoute({
  method: 'patch',
  path: '/app/{app_id}',
  tags: TAGS,
  summary: 'Change some fields of an application',
  request: { params: AppParams, body: { required: true, ...json(ApplicationPatchSchema) } },
  responses: { 200: { description: 'the application', ...json(ApplicationOutSchema) }, ...svixErrors(401, 404, 409, 413, 415, 422) },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/app/{app_id}',
  tags: TAGS,
  summary: 'Delete an application with its endpoints, messages and attempts',
  request: { params: AppParams },
  responses: { 204: { description: 'deleted' }, ...svixErrors(401, 404) },
});

export function applicationRoutes(deps: ServiceDeps): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: svixValidationHook });

  app.openapi(listRoute, async (c) => {
    const query = c.req.valid('query');
    const filter = {
      excludeWithoutEndpoints: query.exclude_apps_with_no_endpoints,
      excludeWithOnlyDisabledEndpoints: query.exclude_apps_with_disabled_endpoints,
    };
    return c.json(await listApplications(deps, c.get('principal').tenantId, pageOf(query, true), filter), 200);
  });

  app.openapi(createAppRoute, async (c) => {
    const body = c.req.valid('json');
    const { application, created } = await createApplication(
      deps,
      c.get('principal').tenantId,
      { name: body.name, uid: body.uid, throttleRate: throttleRateOf(body), metadata: body.metadata },
      { getIfExists: c.req.valid('query').get_if_exists === true },
    );
    return created ? c.json(application, 201) : c.json(application, 200);
  });

  app.openapi(getRoute, async (c) => c.json(await getApplication(deps, c.get('principal').tenantId, c.req.valid('param').app_id), 200));

  app.openapi(upsertRoute, async (c) => {
    const body = c.req.valid('json');
    const { application, created } = await upsertApplication(deps, c.get('principal').tenantId, c.req.valid('param').app_id, {
      name: body.name,
      uid: body.uid,
      throttleRate: throttleRateOf(body),
      metadata: body.metadata,
    });
    return created ? c.json(application, 201) : c.json(application, 200);
  });

  app.openapi(patchRoute, async (c) => {
    const body = c.req.valid('json');
    const application = await patchApplication(deps, c.get('principal').tenantId, c.req.valid('param').app_id, {
      name: body.name,
      uid: body.uid,
      throttleRate: throttleRateOf(body),
      metadata: body.metadata,
    });
    return c.json(application, 200);
  });

  app.openapi(deleteRoute, async (c) => {
    await deleteApplication(deps, c.get('principal').tenantId, c.req.valid('param').app_id);
    return c.body(null, 204);
  });

  return app;
}
