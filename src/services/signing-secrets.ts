import { and, desc, eq, gt, inArray, isNull, or } from 'drizzle-orm';
import { signingSecrets } from '../db/schema.ts';
import type { Queryable } from '../db/client.ts';
import type { SecretCipher } from '../lib/cipher.ts';

/**
 * The secrets each tenant signs with right now, newest first: the current one and every older one
 * still inside its rotation grace period.
 */
export async function activeSigningSecrets(
  db: Queryable,
  cipher: SecretCipher,
  tenantIds: readonly string[],
  now: Date,
): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  if (tenantIds.length === 0) return result;
  const rows = await db
    .select({ tenantId: signingSecrets.tenantId, secret: signingSecrets.secret })
    .from(signingSecrets)
    .where(
      and(
        inArray(signingSecrets.tenantId, [...new Set(tenantIds)]),
        or(isNull(signingSecrets.expiresAt), gt(signingSecrets.expiresAt, now)),
      ),
    )
    .orderBy(desc(signingSecrets.createdAt), desc(signingSecrets.id));
  for (const row of rows) {
    const list = result.get(row.tenantId) ?? [];
    list.push(cipher.open(row.secret));
    result.set(row.tenantId, list);
  }
  return result;
}

export interface ValidSigningSecret {
  signingSecret: string;
  createdAt: string;
  /** Null for the current secret; when a rotation's grace period ends for an older one. */
  expiresAt: string | null;
}

/** A tenant's secrets that sign deliveries now, newest (the current one) first, with their expiries. */
export async function validSigningSecrets(db: Queryable, cipher: SecretCipher, tenantId: string, now: Date): Promise<ValidSigningSecret[]> {
  const rows = await db
    .select({ secret: signingSecrets.secret, createdAt: signingSecrets.createdAt, expiresAt: signingSecrets.expiresAt })
    .from(signingSecrets)
    .where(and(eq(signingSecrets.tenantId, tenantId), or(isNull(signingSecrets.expiresAt), gt(signingSecrets.expiresAt, now))))
    .orderBy(desc(signingSecrets.createdAt), desc(signingSecrets.id));
  return rows.map((row) => ({
    signingSecret: cipher.open(row.secret),
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
  }));
}

/** The tenant's current secret (the newest one that does not expire), in clear. */
export async function currentSigningSecret(db: Queryable, cipher: SecretCipher, tenantId: string): Promise<string | null> {
  const [row] = await db
    .select({ secret: signingSecrets.secret })
    .from(signingSecrets)
    .where(and(eq(signingSecrets.tenantId, tenantId), isNull(signingSecrets.expiresAt)))
    .orderBy(desc(signingSecrets.createdAt), desc(signingSecrets.id))
    .limit(1);
  return row ? cipher.open(row.secret) : null;
}
