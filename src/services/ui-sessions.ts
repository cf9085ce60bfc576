/**
 * Browser sessions of the console and the portal (src/ui).
 *
 * The cookie carries a random token; the database keeps only its SHA-256, so a copy of the table
 * opens nothing. Every session has an idle expiry (moved forward as it is used, at most once a
 * minute) and an absolute one (never moved). A console session belongs to the admin key it signed
 * in with: it ends as soon as that key is revoked (checked on every request, no cache). A portal
 * session carries its scope: a tenant, later an application of that tenant, and read-only or not.
 *
 * Failed sign-ins are counted per client in fixed windows; a client over the limit is refused
 * before its key is even looked at.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { and, eq, gt, lt, or, sql } from 'drizzle-orm';
import { apiKeys, uiLoginFailures, uiSessions } from '../db/schema.ts';
import { randomToken } from '../lib/ids.ts';
import type { ServiceDeps } from './deps.ts';
import { authenticate } from './tenants.ts';

/** What a portal session may see: one tenant, and within it one application when `appId` is set. */
export interface PortalScope {
  tenantId: string;
  /** Set for a portal opened through the Svix-compatible API (`app-portal-access`). */
  appId?: string | undefined;
  readOnly: boolean;
}

export interface ConsoleSession {
  kind: 'console';
  keyId: string;
  tenantId: string;
  csrfToken: string;
  expiresAt: Date;
}

export interface PortalSession {
  kind: 'portal';
  scope: PortalScope;
  csrfToken: string;
  expiresAt: Date;
}

export type UiSession = ConsoleSession | PortalSession;

export interface SessionTimes {
  /** Ends after this long without a request. */
  idleMs: number;
  /** Ends this long after sign-in, used or not. */
  absoluteMs: number;
}

/** An operator's console: 2 hours idle (live pages keep it alive), 12 hours at most. */
export const CONSOLE_SESSION: SessionTimes = { idleMs: 2 * 3_600_000, absoluteMs: 12 * 3_600_000 };
/** A portal session's idle limit; its absolute limit comes with the link. */
export const PORTAL_IDLE_MS = 3_600_000;

/**
 * Sign-in limit: this many failures per client and window, then refusal until the window ends; and
 * `peerFailures` per peer address, whatever proxy header its requests carry, since a client can
 * write a new one on every try.
 */
export const LOGIN_LIMIT = { failures: 10, peerFailures: 100, windowMs: 10 * 60_000 } as const;

const TOUCH_EVERY_MS = 60_000;

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** A new session token (what the cookie carries). */
const newToken = (): string => randomToken(32);

export type SignIn =
  | { ok: true; token: string; session: ConsoleSession }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'throttled'; retryAfterMs: number };

function windowStart(now: Date): Date {
  return new Date(Math.floor(now.getTime() / LOGIN_LIMIT.windowMs) * LOGIN_LIMIT.windowMs);
}

async function failuresNow(deps: Pick<ServiceDeps, 'db'>, client: string, now: Date): Promise<number> {
  const [row] = await deps.db
    .select({ failures: uiLoginFailures.failures })
    .from(uiLoginFailures)
    .where(and(eq(uiLoginFailures.client, client), eq(uiLoginFailures.windowStart, windowStart(now))));
  return row?.failures ?? 0;
}

async function countFailure(deps: Pick<ServiceDeps, 'db'>, client: string, now: Date): Promise<void> {
  await deps.db
    .insert(uiLoginFailures)
    .values({ client, windowStart: windowStart(now), failures: 1 })
    .onConflictDoUpdate({
      target: [uiLoginFailures.client, uiLoginFailures.windowStart],
      set: { failures: sql`${uiLoginFailures.failures} + 1` },
    });
}

/**
 * Signs in to the console with an admin API key. Any other key, unknown, revoked or tenant-scoped,
 * is the same `invalid` (no hint which part was wrong); a client over the limit is `throttled`.
 */
export async function signIn(deps: ServiceDeps, input: { apiKey: string; client: string; peer: string }): Promise<SignIn> {
  const now = deps.clock.now();
  const client = input.client.slice(0, 200);
  const peer = `peer ${input.peer.slice(0, 64)}`;
  const [clientFailures, peerFailures] = await Promise.all([failuresNow(deps, client, now), failuresNow(deps, peer, now)]);
  if (clientFailures >= LOGIN_LIMIT.failures || peerFailures >= LOGIN_LIMIT.peerFailures) {
    return { ok: false, reason: 'throttled', retryAfterMs: windowStart(now).getTime() + LOGIN_LIMIT.windowMs - now.getTime() };
  }
  const apiKey = input.apiKey.trim();
  const principal = apiKey.length > 0 && apiKey.length <= 512 ? await authenticate(deps, apiKey) : null;
  if (principal === null || principal.scope !== 'admin') {
    await Promise.all([countFailure(deps, client, now), countFailure(deps, peer, now)]);
    return { ok: false, reason: 'invalid' };
  }
  const token = newToken();
  const session: ConsoleSession = {
    kind: 'console',
    keyId: principal.keyId,
    tenantId: principal.tenantId,
    csrfToken: randomToken(24),
    expiresAt: new Date(now.getTime() + CONSOLE_SESSION.absoluteMs),
  };
  await deps.db.insert(uiSessions).values({
    id: hashToken(token),
    kind: 'console',
    keyId: principal.keyId,
    tenantId: principal.tenantId,
    csrfToken: session.csrfToken,
    createdAt: now,
    lastSeenAt: now,
    idleExpiresAt: new Date(now.getTime() + CONSOLE_SESSION.idleMs),
    expiresAt: session.expiresAt,
  });
  return { ok: true, token, session };
}

/** Opens a portal session for a scope (the portal link was checked by the caller). */
export async function startPortalSession(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  scope: PortalScope,
  absoluteMs: number,
): Promise<{ token: string; session: PortalSession }> {
  const now = deps.clock.now();
  const token = newToken();
  const session: PortalSession = {
    kind: 'portal',
    scope,
    csrfToken: randomToken(24),
    expiresAt: new Date(now.getTime() + absoluteMs),
  };
  await deps.db.insert(uiSessions).values({
    id: hashToken(token),
    kind: 'portal',
    tenantId: scope.tenantId,
    appId: scope.appId ?? null,
    readOnly: scope.readOnly,
    csrfToken: session.csrfToken,
    createdAt: now,
    lastSeenAt: now,
    idleExpiresAt: new Date(now.getTime() + Math.min(PORTAL_IDLE_MS, absoluteMs)),
    expiresAt: session.expiresAt,
  });
  return { token, session };
}

/**
 * The live session of a cookie token, of the given kind, or null: unknown, expired (idle or
 * absolute), or a console session whose key was revoked or lost its admin scope.
 */
export async function readSession(deps: Pick<ServiceDeps, 'db' | 'clock'>, token: string, kind: 'console'): Promise<ConsoleSession | null>;
export async function readSession(deps: Pick<ServiceDeps, 'db' | 'clock'>, token: string, kind: 'portal'): Promise<PortalSession | null>;
export async function readSession(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  token: string,
  kind: UiSession['kind'],
): Promise<UiSession | null> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
  const now = deps.clock.now();
  const id = hashToken(token);
  const [row] = await deps.db
    .select({
      session: uiSessions,
      keyRevokedAt: apiKeys.revokedAt,
      keyScope: apiKeys.scope,
    })
    .from(uiSessions)
    .leftJoin(apiKeys, eq(apiKeys.id, uiSessions.keyId))
    .where(and(eq(uiSessions.id, id), eq(uiSessions.kind, kind), gt(uiSessions.expiresAt, now), gt(uiSessions.idleExpiresAt, now)));
  if (!row) return null;
  const { session } = row;
  if (!timingSafeEqual(Buffer.from(session.id, 'hex'), Buffer.from(id, 'hex'))) return null;
  if (session.kind === 'console' && (session.keyId === null || row.keyRevokedAt !== null || row.keyScope !== 'admin')) return null;

  if (now.getTime() - session.lastSeenAt.getTime() >= TOUCH_EVERY_MS) {
    const idleMs = session.kind === 'console' ? CONSOLE_SESSION.idleMs : PORTAL_IDLE_MS;
    await deps.db
      .update(uiSessions)
      .set({ lastSeenAt: now, idleExpiresAt: new Date(Math.min(now.getTime() + idleMs, session.expiresAt.getTime())) })
      .where(eq(uiSessions.id, id));
  }
  if (session.kind === 'console') {
    return {
      kind: 'console',
      keyId: session.keyId as string,
      tenantId: session.tenantId,
      csrfToken: session.csrfToken,
      expiresAt: session.expiresAt,
    };
  }
  return {
    kind: 'portal',
    scope: { tenantId: session.tenantId, appId: session.appId ?? undefined, readOnly: session.readOnly },
    csrfToken: session.csrfToken,
    expiresAt: session.expiresAt,
  };
}

/** Ends a session (sign-out); an unknown token is not an error. */
export async function endSession(deps: Pick<ServiceDeps, 'db'>, token: string): Promise<void> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return;
  await deps.db.delete(uiSessions).where(eq(uiSessions.id, hashToken(token)));
}

/** Whether a form's token is the session's, compared in constant time. */
export function csrfMatches(session: Pick<UiSession, 'csrfToken'>, submitted: string | undefined): boolean {
  if (submitted === undefined) return false;
  const expected = Buffer.from(session.csrfToken);
  const given = Buffer.from(submitted);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Deletes expired sessions and old sign-in failure windows (run by the overview job every minute). */
export async function pruneSessions(deps: Pick<ServiceDeps, 'db' | 'clock'>): Promise<void> {
  const now = deps.clock.now();
  await deps.db.delete(uiSessions).where(or(lt(uiSessions.expiresAt, now), lt(uiSessions.idleExpiresAt, now)));
  await deps.db.delete(uiLoginFailures).where(lt(uiLoginFailures.windowStart, new Date(now.getTime() - 2 * LOGIN_LIMIT.windowMs)));
}
