/**
 * Svix's `authentication.appPortalAccess`: `POST /api/v1/auth/app-portal-access/{app_id}` answers a
 * single-use link to Orbit's portal scoped to that application (its messages, attempts and
 * endpoints), the same kind of link as `POST /v1/admin/tenants/{id}/portal-access` (CONTRACT §10).
 *
 * How Svix's options map (Orbit's portal session is either full or read-only):
 * - `expiry` (seconds, 1 hour to 7 days; default 7 days, as Svix) is how long the portal session
 *   lasts once the link is opened; the link itself must be opened within 15 minutes, once.
 * - `readOnly: true` makes a read-only session. So does a `capabilities` list that does not grant
 *   everything a full session can do: the full session edits endpoints and their secrets
 *   (`ManageEndpoint`) and retries and sends examples (`CreateAttempts`), so a list without both
 *   is read-only rather than more than it asked for. No `capabilities` is full access, as in Svix.
 *   A read-only session sees no secret.
 * - `application` creates the application (with the path's key as its uid) when none has that key.
 * - `featureFlags` and `sessionId` are accepted and ignored (Orbit has no feature-flagged event
 *   types in the portal and no "expire all").
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ServiceDeps } from '../../services/deps.ts';
import { createAppPortalAccess } from '../../services/portal.ts';
import type { ApiEnv } from '../auth.ts';
import { svixValidationHook } from './errors.ts';
import { ApplicationInSchema, json, PathKey, svixErrors, throttleRateOf } from './schemas.ts';

const CAPABILITIES = [
  'ViewBase',
  'ViewEndpointSecret',
  'ManageEndpointSecret',
  'ManageTransformations',
  'CreateAttempts',
  'ManageEndpoint',
] as const;
type Capability = (typeof CAPABILITIES)[number];

const HOUR_S = 3_600;
const WEEK_S = 7 * 24 * HOUR_S;

const AppPortalAccessInSchema = z
  .object({
    application: ApplicationInSchema.nullish(),
    readOnly: z.boolean().nullish().openapi({ deprecated: true, description: 'a read-only portal: no action, no secret' }),
    capabilities: z
      .array(z.enum(CAPABILITIES))
      .max(16)
      .nullish()
      .openapi({ description: 'without both `ManageEndpoint` and `CreateAttempts` the portal is read-only; absent: full access' }),
    featureFlags: z.array(z.string().max(256)).max(256).optional().openapi({ description: 'accepted and ignored' }),
    expiry: z
      .number()
      .int()
      .min(HOUR_S, 'must be between 1 hour and 7 days (in seconds)')
      .max(WEEK_S, 'must be between 1 hour and 7 days (in seconds)')
      .nullish()
      .openapi({ description: 'how long the portal session lasts once the link is opened, seconds (default 7 days)' }),
    sessionId: z.string().max(256).nullish().openapi({ description: 'accepted and ignored' }),
  })
  .openapi('AppPortalAccessIn');

const AppPortalAccessOutSchema = z
  .object({
    url: z.string().openapi({ example: 'https://orbit.example.com/portal#token=ptl_…' }),
    token: z.string().openapi({ description: 'the link token (also in the URL fragment): opens the portal once, within 15 minutes' }),
  })
  .openapi('AppPortalAccessOut');

const appPortalAccessRoute = createRoute({
  method: 'post',
  path: '/auth/app-portal-access/{app_id}',
  tags: ['Svix: Authentication'],
  summary: "A single-use link to the application's portal",
  description:
    "A link to `/portal` showing only this application's messages, attempts and endpoints (add, edit, disable, rotate and show secrets, send examples, retry), to hand to the application's owner. The token travels in the URL's fragment; the link opens once, within 15 minutes, and becomes a session lasting `expiry` (default 7 days, ending after an hour idle). `readOnly`, or `capabilities` without both `ManageEndpoint` and `CreateAttempts`, make it read-only.",
  request: {
    params: z.object({ app_id: PathKey('app_id', 'app_08QAIw9MnoEyeUVwXmXpDng') }),
    body: { required: false, ...json(AppPortalAccessInSchema) },
  },
  responses: {
    200: { description: 'the link', ...json(AppPortalAccessOutSchema) },
    ...svixErrors(401, 404, 409, 413, 415, 422),
  },
});

/** Whether the requested access is more than a full portal session can narrow to: read-only then. */
function readOnlyOf(body: { readOnly?: boolean | null | undefined; capabilities?: Capability[] | null | undefined }): boolean {
  if (body.readOnly === true) return true;
  if (body.capabilities === null || body.capabilities === undefined) return false;
  return !(body.capabilities.includes('ManageEndpoint') && body.capabilities.includes('CreateAttempts'));
}

export function authRoutes(deps: ServiceDeps, publicUrl: string | undefined): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: svixValidationHook });
  app.openapi(appPortalAccessRoute, async (c) => {
    const body = c.req.valid('json');
    const application = body.application ?? undefined;
    const access = await createAppPortalAccess(
      deps,
      publicUrl ?? new URL(c.req.url).origin,
      c.get('principal').tenantId,
      c.req.valid('param').app_id,
      {
        application:
          application === undefined
            ? undefined
            : { name: application.name, throttleRate: throttleRateOf(application), metadata: application.metadata },
        readOnly: readOnlyOf(body),
        sessionMs: (body.expiry ?? WEEK_S) * 1000,
      },
    );
    return c.json({ url: access.url, token: access.token }, 200);
  });
  return app;
}
