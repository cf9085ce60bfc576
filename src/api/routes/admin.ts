import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ServiceDeps } from '../../services/deps.ts';
import { createTenant, getTenantSigningSecret, issueApiKey, listTenants, revokeApiKey } from '../../services/tenants.ts';
import type { ApiEnv } from '../auth.ts';
import {
  errorResponses,
  json,
  IdParam,
  IdIteratorQuery,
  LimitQuery,
  pageOf,
  storableText,
  strictObject,
  TenantSchema,
  ValidSigningSecretSchema,
} from '../schemas.ts';
import { validationHook } from '../validation.ts';

const TenantParams = z.object({ id: IdParam('id', 'ten_08QAIw9MnoEyeUVwXmXpDng') });
const ScopeSchema = z.enum(['tenant', 'admin']);

const IssuedKeySchema = z
  .object({ id: z.string(), tenantId: z.string(), scope: ScopeSchema, apiKey: z.string(), createdAt: z.string() })
  .openapi('IssuedKey');

const createTenantRoute = createRoute({
  method: 'post',
  path: '/admin/tenants',
  tags: ['Admin: tenants'],
  summary: 'Create a tenant',
  description: 'Answers the tenant, its first tenant-scoped key (`apiKey`, shown once) and its signing secret.',
  request: {
    body: {
      required: true,
      ...json(strictObject({ name: storableText(z.string().trim().min(1).max(200)) }).openapi('CreateTenant')),
    },
  },
  responses: {
    201: {
      description: 'the tenant',
      ...json(TenantSchema.extend({ apiKey: z.string(), keyId: z.string(), signingSecret: z.string() }).openapi('CreatedTenant')),
    },
    ...errorResponses(400, 401, 403, 413, 415, 422),
  },
});

const listTenantsRoute = createRoute({
  method: 'get',
  path: '/admin/tenants',
  tags: ['Admin: tenants'],
  summary: 'List tenants, newest first (never keys or secrets)',
  request: { query: z.object({ limit: LimitQuery, iterator: IdIteratorQuery('ten') }) },
  responses: { 200: { description: 'a page of tenants', ...json(pageOf(TenantSchema, 'TenantPage')) }, ...errorResponses(401, 403, 422) },
});

const issueKeyRoute = createRoute({
  method: 'post',
  path: '/admin/tenants/{id}/keys',
  tags: ['Admin: tenants'],
  summary: 'Issue an API key for a tenant (shown once)',
  request: {
    params: TenantParams,
    body: { required: false, ...json(strictObject({ scope: ScopeSchema.optional() }).openapi('IssueKey')) },
  },
  responses: { 201: { description: 'the key', ...json(IssuedKeySchema) }, ...errorResponses(400, 401, 403, 404, 415, 422) },
});

const revokeKeyRoute = createRoute({
  method: 'delete',
  path: '/admin/keys/{keyId}',
  tags: ['Admin: tenants'],
  summary: 'Revoke an API key',
  request: { params: z.object({ keyId: IdParam('keyId', 'key_08QAIw9MnoEyeUVwXmXpDng') }) },
  responses: { 204: { description: 'revoked (also when it already was)' }, ...errorResponses(401, 403, 404) },
});

const signingSecretRoute = createRoute({
  method: 'get',
  path: '/admin/tenants/{id}/signing-secret',
  tags: ['Admin: tenants'],
  summary: "Read a tenant's current signing secret and every secret still valid, with their expiries",
  request: { params: TenantParams },
  responses: {
    200: {
      description: 'the current secret, and in `secrets` every valid one, newest first',
      ...json(
        z.object({ tenantId: z.string(), signingSecret: z.string(), secrets: z.array(ValidSigningSecretSchema) }).openapi('SigningSecret'),
      ),
    },
    ...errorResponses(401, 403, 404),
  },
});

export function adminTenantRoutes(deps: ServiceDeps): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: validationHook });
  app.openapi(createTenantRoute, async (c) => c.json(await createTenant(deps, c.req.valid('json').name), 201));
  app.openapi(listTenantsRoute, async (c) => {
    const query = c.req.valid('query');
    return c.json(await listTenants(deps, { limit: query.limit, iterator: query.iterator }), 200);
  });
  app.openapi(issueKeyRoute, async (c) => {
    const scope = c.req.valid('json').scope ?? 'tenant';
    return c.json(await issueApiKey(deps, c.req.valid('param').id, scope), 201);
  });
  app.openapi(revokeKeyRoute, async (c) => {
    await revokeApiKey(deps, c.req.valid('param').keyId);
    return c.body(null, 204);
  });
  app.openapi(signingSecretRoute, async (c) => c.json(await getTenantSigningSecret(deps, c.req.valid('param').id), 200));
  return app;
}
