/**
 * Moving an existing database to encrypted signing secrets: once ORBIT_ENCRYPTION_KEY is set, every
 * secret still stored in clear is rewritten sealed. Reading accepts both forms meanwhile, so this
 * can run at any start, beside live traffic and other processes doing the same.
 */
import { and, eq, notLike } from 'drizzle-orm';
import { signingSecrets } from '../db/schema.ts';
import type { ServiceDeps } from './deps.ts';

const BATCH = 500;
// What `SecretCipher.seal` writes in front of every sealed value.
const SEALED_PREFIX = 'enc:v1:';

/**
 * Seals every clear `signing_secrets.secret`; returns how many rows it rewrote. Idempotent: sealed
 * rows are left alone, and each update applies only if the row still holds the clear value it
 * read (another process may have sealed it meanwhile). Without a key it does nothing.
 */
export async function sealPlainSecrets(deps: Pick<ServiceDeps, 'db' | 'cipher' | 'logger'>): Promise<number> {
  if (!deps.cipher.encrypting) return 0;
  let sealed = 0;
  // A row sealed by another process meanwhile no longer matches the select: every pass progresses.
  for (;;) {
    const rows = await deps.db
      .select({ id: signingSecrets.id, secret: signingSecrets.secret })
      .from(signingSecrets)
      .where(notLike(signingSecrets.secret, `${SEALED_PREFIX}%`))
      .limit(BATCH);
    if (rows.length === 0) break;
    sealed += await deps.db.transaction(async (tx) => {
      let count = 0;
      for (const row of rows) {
        const updated = await tx
          .update(signingSecrets)
          .set({ secret: deps.cipher.seal(row.secret) })
          .where(and(eq(signingSecrets.id, row.id), eq(signingSecrets.secret, row.secret)))
          .returning({ id: signingSecrets.id });
        count += updated.length;
      }
      return count;
    });
    if (rows.length < BATCH) break;
  }
  // Counts only: the secrets themselves never reach a log line.
  if (sealed > 0) deps.logger.info({ sealed }, 'signing secrets stored in clear are now encrypted');
  return sealed;
}
