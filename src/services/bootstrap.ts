import { and, asc, eq, isNull } from 'drizzle-orm';
import { sql } from 'drizzle-orm';
import type { Transaction } from '../db/client.ts';
import { apiKeys, endpoints, tenants } from '../db/schema.ts';
import { generateSigningSecret, normaliseSigningSecret } from '../domain/signing.ts';
import { newId } from '../lib/ids.ts';
import type { ServiceDeps } from './deps.ts';
import { generateApiKey, hashApiKey, insertApiKey } from './tenants.ts';
import { DEPLOYMENT_ENDPOINT_UID } from './operational.ts';
import { currentSigningSecret, insertSigningSecret, replaceSigningSecret } from './signing-secrets.ts';

export interface BootstrapOptions {
  adminKey?: string | undefined;
  signingSecret?: string | undefined;
  /** ORBIT_OPERATIONAL_WEBHOOK_URL: the deployment's operational endpoint; unset removes it. */
  operationalWebhookUrl?: string | undefined;
  /** ORBIT_OPERATIONAL_WEBHOOK_SECRET: its signing secret; generated when unset. */
  operationalWebhookSecret?: string | undefined;
}

export interface BootstrapResult {
  tenantId: string;
  /** A key generated on this start, to print once; null when one existed or was configured. */
  generatedAdminKey: string | null;
  /** The operational endpoint's secret when generated on this start, to print once; else null. */
  generatedOperationalSecret: string | null;
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
    const generatedOperationalSecret = await reconcileOperationalEndpoint(deps, tx, tenantId, options, now);
    return { tenantId, generatedAdminKey, generatedOperationalSecret };
  });
}

/**
 * The deployment's operational endpoint (services/operational.ts), owned by the default tenant:
 * made when ORBIT_OPERATIONAL_WEBHOOK_URL is first set, its URL and secret kept as configured,
 * removed (soft, so its log stays) when the variable is unset. Returns a secret generated now.
 */
async function reconcileOperationalEndpoint(
  deps: ServiceDeps,
  tx: Transaction,
  tenantId: string,
  options: BootstrapOptions,
  now: Date,
): Promise<string | null> {
  const [existing] = await tx
    .select({ id: endpoints.id, tenantId: endpoints.tenantId, url: endpoints.url })
    .from(endpoints)
    .where(and(eq(endpoints.kind, 'operational'), eq(endpoints.uid, DEPLOYMENT_ENDPOINT_UID), isNull(endpoints.deletedAt)))
    .limit(1);
  const url = options.operationalWebhookUrl;
  if (url === undefined) {
    if (existing) await tx.update(endpoints).set({ deletedAt: now, updatedAt: now }).where(eq(endpoints.id, existing.id));
    return null;
  }
  const wanted = options.operationalWebhookSecret ? normaliseSigningSecret(options.operationalWebhookSecret) : null;
  if (!existing) {
    const id = newId('ep', now.getTime());
    await tx.insert(endpoints).values({
      id,
      tenantId,
      kind: 'operational',
      uid: DEPLOYMENT_ENDPOINT_UID,
      url,
      description: 'ORBIT_OPERATIONAL_WEBHOOK_URL',
      createdAt: now,
      updatedAt: now,
    });
    const secret = wanted ?? generateSigningSecret();
    await insertSigningSecret(deps, tx, { tenantId, endpointId: id }, secret, now);
    return wanted === null ? secret : null;
  }
  if (existing.url !== url) await tx.update(endpoints).set({ url, updatedAt: now }).where(eq(endpoints.id, existing.id));
  const owner = { tenantId: existing.tenantId, endpointId: existing.id };
  const current = await currentSigningSecret(tx, deps.cipher, owner);
  if (current === null || (wanted !== null && wanted !== current)) {
    const secret = wanted ?? generateSigningSecret();
    await replaceSigningSecret(deps, tx, owner, secret, now, now);
    return wanted === null ? secret : null;
  }
  return null;
}
