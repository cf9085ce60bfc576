import { and, asc, eq, isNull } from 'drizzle-orm';
import { sql } from 'drizzle-orm';
import { apiKeys, tenants } from '../db/schema.ts';
import { generateSigningSecret, normaliseSigningSecret } from '../domain/signing.ts';
import { newId } from '../lib/ids.ts';
import type { ServiceDeps } from './deps.ts';
import { generateApiKey, hashApiKey, insertApiKey } from './tenants.ts';
import { currentSigningSecret, replaceSigningSecret } from './signing-secrets.ts';

export interface BootstrapOptions {
  adminKey?: string | undefined;
  signingSecret?: string | undefined;
}

export interface BootstrapResult {
  tenantId: string;
  /** A key generated on this start, to print once; null when one existed or was configured. */
  generatedAdminKey: string | null;
}

// Several processes may start at once against one database: one transaction-level lock makes the
// first start's set-up happen exactly once.
const BOOTSTRAP_LOCK = 0x0_7b17_0002;

/**
 * First start: the default tenant, its signing secret (ORBIT_SIGNING_SECRET or a generated one)
 * and an admin key (ORBIT_ADMIN_KEY or a generated one). Later starts only reconcile the configured
 * values: a configured admin key is made to exist; a configured signing secret that differs from
 * the current one becomes the current one.
 */
export async function bootstrap(deps: ServiceDeps, options: BootstrapOptions): Promise<BootstrapResult> {
  return deps.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`);
    const now = deps.clock.now();
    let [tenant] = await tx.select().from(tenants).orderBy(asc(tenants.id)).limit(1);
    if (!tenant) {
      [tenant] = await tx
        .insert(tenants)
        .values({ id: newId('ten', now.getTime()), name: 'default', createdAt: now })
        .returning();
    }
    const tenantId = (tenant as typeof tenants.$inferSelect).id;

    const wanted = options.signingSecret ? normaliseSigningSecret(options.signingSecret) : null;
    const owner = { tenantId, endpointId: null };
    const current = await currentSigningSecret(tx, deps.cipher, owner);
    if (!current || (wanted && wanted !== current)) {
      // A configured secret replaces the current one at once: receivers were told to use it.
      await replaceSigningSecret(deps, tx, owner, wanted ?? generateSigningSecret(), now, now);
    }

    let generatedAdminKey: string | null = null;
    if (options.adminKey) {
      const [existing] = await tx
        .select({ id: apiKeys.id })
        .from(apiKeys)
        .where(eq(apiKeys.keyHash, hashApiKey(options.adminKey)));
      if (!existing) await insertApiKey(tx, tenantId, 'admin', options.adminKey, now);
    } else {
      const [anyAdmin] = await tx
        .select({ id: apiKeys.id })
        .from(apiKeys)
        .where(and(eq(apiKeys.scope, 'admin'), isNull(apiKeys.revokedAt)))
        .limit(1);
      if (!anyAdmin) {
        generatedAdminKey = generateApiKey();
        await insertApiKey(tx, tenantId, 'admin', generatedAdminKey, now);
      }
    }
    return { tenantId, generatedAdminKey };
  });
}
