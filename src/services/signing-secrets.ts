/**
 * Signing secrets and their rotation, for either owner: a tenant (what its run webhooks sign with)
 * or one endpoint of the Svix-compatible API (its own secrets). A rotation makes a new current
 * secret; every secret valid before keeps signing until the grace period ends (deliveries carry one
 * `v1,…` entry per valid secret), so receivers can switch without rejecting a delivery.
 */
import { and, desc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import { signingSecrets } from '../db/schema.ts';
import type { Queryable } from '../db/client.ts';
import { normaliseSigningSecret } from '../domain/signing.ts';
import type { SecretCipher } from '../lib/cipher.ts';
import { newId } from '../lib/ids.ts';
import type { ServiceDeps } from './deps.ts';

/** Whose secrets: a tenant's own (`endpointId` null) or one endpoint's. */
export interface SecretOwner {
  tenantId: string;
  endpointId: string | null;
}

const ownedBy = (owner: SecretOwner) =>
  and(
    eq(signingSecrets.tenantId, owner.tenantId),
    owner.endpointId === null ? isNull(signingSecrets.endpointId) : eq(signingSecrets.endpointId, owner.endpointId),
  );

const validAt = (now: Date) => or(isNull(signingSecrets.expiresAt), gt(signingSecrets.expiresAt, now));

/**
 * The secrets each owner signs with right now, newest first, keyed by endpoint id for an endpoint's
 * own secrets and by tenant id for a tenant's. On the delivery path (once per fetched batch): one
 * statement text whatever the batch, planned once per connection, and no query builder.
 */
export async function signingSecretsFor(
  deps: Pick<ServiceDeps, 'sql' | 'cipher'>,
  owners: readonly SecretOwner[],
  now: Date,
): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  const tenantIds = [...new Set(owners.filter((owner) => owner.endpointId === null).map((owner) => owner.tenantId))];
  const endpointIds = [...new Set(owners.flatMap((owner) => (owner.endpointId === null ? [] : [owner.endpointId])))];
  if (tenantIds.length === 0 && endpointIds.length === 0) return result;
  const rows = await deps.sql.unsafe<{ owner: string; secret: string }[]>(SECRETS_NOW, [tenantIds, endpointIds, now.toISOString()], {
    prepare: true,
  });
  for (const row of rows) {
    const list = result.get(row.owner) ?? [];
    list.push(deps.cipher.open(row.secret));
    result.set(row.owner, list);
  }
  return result;
}

// Valid as validAt above says (no expiry, or one still ahead): keep the two in step.
const SECRETS_NOW = `
  select coalesce(endpoint_id, tenant_id) as owner, secret from signing_secrets
  where ((tenant_id = any($1::text[]) and endpoint_id is null) or endpoint_id = any($2::text[]))
    and (expires_at is null or expires_at > $3::timestamptz)
  order by created_at desc, id desc`;

export interface ValidSigningSecret {
  signingSecret: string;
  createdAt: string;
  /** Null for the current secret; when a rotation's grace period ends for an older one. */
  expiresAt: string | null;
}

/** An owner's secrets that sign deliveries now, newest (the current one) first, with their expiries. */
export async function validSigningSecrets(
  db: Queryable,
  cipher: SecretCipher,
  owner: SecretOwner,
  now: Date,
): Promise<ValidSigningSecret[]> {
  const rows = await db
    .select({ secret: signingSecrets.secret, createdAt: signingSecrets.createdAt, expiresAt: signingSecrets.expiresAt })
    .from(signingSecrets)
    .where(and(ownedBy(owner), validAt(now)))
    .orderBy(desc(signingSecrets.createdAt), desc(signingSecrets.id));
  return rows.map((row) => ({
    signingSecret: cipher.open(row.secret),
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
  }));
}

/** The owner's current secret (the newest one that does not expire), in clear. */
export async function currentSigningSecret(db: Queryable, cipher: SecretCipher, owner: SecretOwner): Promise<string | null> {
  const [row] = await db
    .select({ secret: signingSecrets.secret })
    .from(signingSecrets)
    .where(and(ownedBy(owner), isNull(signingSecrets.expiresAt)))
    .orderBy(desc(signingSecrets.createdAt), desc(signingSecrets.id))
    .limit(1);
  return row ? cipher.open(row.secret) : null;
}

export async function insertSigningSecret(
  deps: Pick<ServiceDeps, 'cipher'>,
  db: Queryable,
  owner: SecretOwner,
  secret: string,
  now: Date,
): Promise<void> {
  await db.insert(signingSecrets).values({
    id: newId('sec', now.getTime()),
    tenantId: owner.tenantId,
    endpointId: owner.endpointId,
    secret: deps.cipher.seal(normaliseSigningSecret(secret)),
    createdAt: now,
  });
}

/**
 * Makes `secret` the owner's current signing secret. Every secret still valid (the previous current
 * one and any older one still in a grace period) keeps signing until `previousExpiresAt` at the
 * latest, so a rotation after a leak with no grace period retires them all at once. Returns whether
 * any secret was still valid. Callers serialise rotations of one owner (a row lock).
 */
/** How many secrets of an owner sign now (its current one and those in their grace period). */
export async function countValidSigningSecrets(db: Queryable, owner: SecretOwner, now: Date): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(signingSecrets)
    .where(and(ownedBy(owner), validAt(now)));
  return row?.n ?? 0;
}

export async function replaceSigningSecret(
  deps: Pick<ServiceDeps, 'cipher'>,
  db: Queryable,
  owner: SecretOwner,
  secret: string,
  now: Date,
  previousExpiresAt: Date,
): Promise<boolean> {
  const until = previousExpiresAt.toISOString();
  const retired = await db
    .update(signingSecrets)
    .set({ expiresAt: sql`least(coalesce(${signingSecrets.expiresAt}, ${until}::timestamptz), ${until}::timestamptz)` })
    .where(and(ownedBy(owner), validAt(now)))
    .returning({ id: signingSecrets.id });
  await insertSigningSecret(deps, db, owner, secret, now);
  return retired.length > 0;
}
