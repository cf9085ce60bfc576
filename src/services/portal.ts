/**
 * Portal links (`POST /v1/admin/tenants/{id}/portal-access`): a single-use, short-lived link that a
 * tenant hands to its customer. The token travels in the URL fragment (`…/portal#token=…`), which
 * browsers never send to the server, so it never lands in access logs; the portal page posts it to
 * `/portal/session`, which redeems it (once) for a session cookie scoped to the link's tenant.
 *
 * The Svix-compatible `POST /api/v1/auth/app-portal-access/{app_id}` makes the same links with the
 * scope narrowed to one application of the tenant (`createAppPortalAccess`).
 */
import { and, eq, gt, isNull, lt, or } from 'drizzle-orm';
import { portalLinks, tenants } from '../db/schema.ts';
import { notFound, validationFailed } from '../domain/errors.ts';
import { ID_PREFIX, isIdOf } from '../domain/svix.ts';
import { randomToken } from '../lib/ids.ts';
import { createApplication, type ApplicationInput } from './applications.ts';
import type { ServiceDeps } from './deps.ts';
import { lookupApplication } from './svix-scope.ts';
import { hashToken, startPortalSession, type PortalScope, type PortalSession } from './ui-sessions.ts';

/** The link must be opened within this long. */
export const PORTAL_LINK_MS = 15 * 60_000;
/** How long a portal session lasts once the link is opened, unless the request says otherwise. */
export const DEFAULT_PORTAL_SESSION_MS = 8 * 3_600_000;
export const MAX_PORTAL_SESSION_MS = 7 * 86_400_000;
export const MIN_PORTAL_SESSION_MS = 60_000;

export interface PortalAccessInput {
  tenantId: string;
  /** Set by the Svix-compatible API: the application the portal shows. */
  appId?: string | undefined;
  readOnly?: boolean | undefined;
  /** Session lifetime once opened, ms. */
  sessionMs?: number | undefined;
}

export interface PortalAccess {
  /** The link to hand out: `{publicUrl}/portal#token=…`. */
  url: string;
  token: string;
  /** The link must be opened before this. */
  expiresAt: string;
  /** How long the portal session lasts once opened, in seconds. */
  sessionSeconds: number;
  readOnly: boolean;
}

export async function createPortalAccess(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  publicUrl: string,
  input: PortalAccessInput,
): Promise<PortalAccess> {
  const sessionMs = input.sessionMs ?? DEFAULT_PORTAL_SESSION_MS;
  if (!Number.isInteger(sessionMs) || sessionMs < MIN_PORTAL_SESSION_MS || sessionMs > MAX_PORTAL_SESSION_MS) {
    throw validationFailed('expiresIn', 'must be a duration from 1m to 7d');
  }
  const [tenant] = await deps.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, input.tenantId));
  if (!tenant) throw notFound('tenant');
  const now = deps.clock.now();
  const token = `ptl_${randomToken(32)}`;
  const expiresAt = new Date(now.getTime() + PORTAL_LINK_MS);
  const readOnly = input.readOnly ?? false;
  await deps.db.insert(portalLinks).values({
    id: hashToken(token),
    tenantId: input.tenantId,
    appId: input.appId ?? null,
    readOnly,
    sessionMs,
    createdAt: now,
    expiresAt,
  });
  return {
    url: `${publicUrl.replace(/\/+$/, '')}/portal#token=${token}`,
    token,
    expiresAt: expiresAt.toISOString(),
    sessionSeconds: Math.round(sessionMs / 1000),
    readOnly,
  };
}

export interface AppPortalAccessInput {
  /**
   * Creates the application when the key names none (Svix's `application`): it gets the key as its
   * uid. Ignored when the application exists; a key that is an unknown id still answers 404.
   */
  application?: ApplicationInput | undefined;
  readOnly?: boolean | undefined;
  sessionMs?: number | undefined;
}

/**
 * A portal link scoped to one application of the tenant (by id or uid): the portal shows its
 * messages and its endpoints only. Another tenant's application is not found.
 */
export async function createAppPortalAccess(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  publicUrl: string,
  tenantId: string,
  appKey: string,
  input: AppPortalAccessInput,
): Promise<PortalAccess & { appId: string }> {
  let app = await lookupApplication(deps.db, tenantId, appKey);
  if (!app && input.application !== undefined && !isIdOf(ID_PREFIX.app, appKey)) {
    const created = await createApplication(deps, tenantId, { ...input.application, uid: appKey }, { getIfExists: true });
    app = await lookupApplication(deps.db, tenantId, created.application.id);
  }
  if (!app) throw notFound('application');
  const access = await createPortalAccess(deps, publicUrl, {
    tenantId,
    appId: app.id,
    readOnly: input.readOnly,
    sessionMs: input.sessionMs,
  });
  return { ...access, appId: app.id };
}

/**
 * Redeems a link's token for a portal session: once, and only before the link expires. Null for a
 * token that is unknown, used or expired (the portal says so without telling which).
 */
export async function redeemPortalLink(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  token: string,
): Promise<{ token: string; session: PortalSession } | null> {
  if (!/^ptl_[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
  const now = deps.clock.now();
  // One statement marks it used: two tabs opening the same link race, and exactly one wins.
  const [link] = await deps.db
    .update(portalLinks)
    .set({ usedAt: now })
    .where(and(eq(portalLinks.id, hashToken(token)), isNull(portalLinks.usedAt), gt(portalLinks.expiresAt, now)))
    .returning();
  if (!link) return null;
  const scope: PortalScope = { tenantId: link.tenantId, appId: link.appId ?? undefined, readOnly: link.readOnly };
  return startPortalSession(deps, scope, link.sessionMs);
}

/** Deletes links that expired or were used more than a day ago (run by the overview job). */
export async function prunePortalLinks(deps: Pick<ServiceDeps, 'db' | 'clock'>): Promise<void> {
  const dayAgo = new Date(deps.clock.now().getTime() - 86_400_000);
  await deps.db.delete(portalLinks).where(or(lt(portalLinks.expiresAt, dayAgo), lt(portalLinks.usedAt, dayAgo)));
}
