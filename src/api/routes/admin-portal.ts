/** `POST /v1/admin/tenants/{id}/portal-access`: a single-use link to the portal (CONTRACT §10). */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { parseDuration } from '../../lib/durations.ts';
import type { ServiceDeps } from '../../services/deps.ts';
import { createPortalAccess, MAX_PORTAL_SESSION_MS, MIN_PORTAL_SESSION_MS } from '../../services/portal.ts';
import type { ApiEnv } from '../auth.ts';
import { errorResponses, IdParam, json, strictObject } from '../schemas.ts';
import { validationHook } from '../validation.ts';

const ExpiresIn = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    // A number is seconds; a text is a duration such as 30m, 8h or 7d.
    const ms = typeof value === 'number' ? (Number.isInteger(value) ? value * 1000 : null) : parseDuration(value);
    if (ms === null || ms < MIN_PORTAL_SESSION_MS || ms > MAX_PORTAL_SESSION_MS) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration from 1m to 7d, such as "8h", or a number of seconds' });
      return z.NEVER;
    }
    return ms;
  })
  .openapi({
    example: '8h',
    description: 'how long the portal session lasts once the link is opened (default 8h, at most 7d), or a number of seconds',
  });

const portalAccessRoute = createRoute({
  method: 'post',
  path: '/admin/tenants/{id}/portal-access',
  tags: ['Admin: tenants'],
  summary: "A single-use link to the tenant's portal",
  description:
    "Answers a link to `/portal` showing only this tenant's messages and attempts (with Retry, unless `readOnly`), to hand to the tenant's customer. The token travels in the URL's fragment, which browsers never send to a server; the link opens once, within 15 minutes, and then becomes a session cookie that lasts `expiresIn`.",
  request: {
    params: z.object({ id: IdParam('id', 'ten_08QAIw9MnoEyeUVwXmXpDng') }),
    body: {
      required: false,
      ...json(
        strictObject({
          readOnly: z.boolean().optional().openapi({ description: 'hide every action (Retry); default false' }),
          expiresIn: ExpiresIn.optional(),
        }).openapi('PortalAccessRequest'),
      ),
    },
  },
  responses: {
    200: {
      description: 'the link',
      ...json(
        z
          .object({
            url: z.string().openapi({ example: 'https://orbit.example.com/portal#token=ptl_…' }),
            token: z.string(),
            expiresAt: z.string().openapi({ description: 'the link must be opened before this' }),
            sessionSeconds: z.number().int().openapi({ description: 'how long the portal session lasts once opened' }),
            readOnly: z.boolean(),
          })
          .openapi('PortalAccess'),
      ),
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422),
  },
});

/** Mount under `/v1` (behind requireAdmin for `/admin/*`). */
export function adminPortalRoutes(deps: ServiceDeps, publicUrl: string | undefined): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: validationHook });
  app.openapi(portalAccessRoute, async (c) => {
    const body = c.req.valid('json');
    const access = await createPortalAccess(deps, publicUrl ?? new URL(c.req.url).origin, {
      tenantId: c.req.valid('param').id,
      readOnly: body.readOnly,
      sessionMs: body.expiresIn,
    });
    return c.json(access, 200);
  });
  return app;
}
