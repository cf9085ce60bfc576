import { createHash, timingSafeEqual } from 'node:crypto';
import { and, desc, eq, isNull, lt } from 'drizzle-orm';
import { apiKeys, tenants } from '../db/schema.ts';
import type { Queryable } from '../db/client.ts';
import { notFound } from '../domain/errors.ts';
import { generateSigningSecret } from '../domain/signing.ts';
import { newId, randomToken } from '../lib/ids.ts';
import type { ServiceDeps } from './deps.ts';
import { insertSigningSecret, validSigningSecrets, type ValidSigningSecret } from './signing-secrets.ts';

export type KeyScope = 'tenant' | 'admin';

export interface TenantView {
  id: string;
  name: string;
  createdAt: string;
}

export interface IssuedKey {
  id: string;
  tenantId: string;
  scope: KeyScope;
  apiKey: string;
  createdAt: string;
}

export interface Principal {
  keyId: string;
  tenantId: string;
  scope: KeyScope;
}

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}

export function generateApiKey(): string {
  return `gx_${randomToken(32)}`;
}

const toTenantView = (row: typeof tenants.$inferSelect): TenantView => ({
  id: row.id,
  name: row.name,
  createdAt: row.createdAt.toISOString(),
});

export async function insertApiKey(db: Queryable, tenantId: string, scope: KeyScope, apiKey: string, now: Date): Promise<IssuedKey> {
  const id = newId('key', now.getTime());
  await db.insert(apiKeys).values({ id, tenantId, scope, keyHash: hashApiKey(apiKey), createdAt: now });
  return { id, tenantId, scope, apiKey, createdAt: now.toISOString() };
}

/** A new tenant with its first (tenant-scoped) key and its signing secret, both shown once. */
export async function createTenant(
  deps: ServiceDeps,
  name: string,
): Promise<TenantView & { apiKey: string; keyId: string; signingSecret: string }> {
  const now = deps.clock.now();
  const id = newId('ten', now.getTime());
  const apiKey = generateApiKey();
  const signingSecret = generateSigningSecret();
  const key = await deps.db.transaction(async (tx) => {
    await tx.insert(tenants).values({ id, name, createdAt: now });
    await insertSigningSecret(deps, tx, { tenantId: id, endpointId: null }, signingSecret, now);
    return insertApiKey(tx, id, 'tenant', apiKey, now);
  });
  return { id, name, createdAt: now.toISOString(), apiKey, keyId: key.id, signingSecret };
}

export async function listTenants(
  deps: ServiceDeps,
  page: { limit: number; iterator: string | undefined },
): Promise<{ data: TenantView[]; iterator: string | null; done: boolean }> {
  const rows = await deps.db
    .select()
    .from(tenants)
    .where(page.iterator ? lt(tenants.id, page.iterator) : undefined)
    .orderBy(desc(tenants.id))
    .limit(page.limit + 1);
  const done = rows.length <= page.limit;
  const data = rows.slice(0, page.limit).map(toTenantView);
  return { data, iterator: done ? null : (data.at(-1)?.id ?? null), done };
}

export async function getTenant(deps: ServiceDeps, tenantId: string): Promise<TenantView> {
  const [row] = await deps.db.select().from(tenants).where(eq(tenants.id, tenantId));
  if (!row) throw notFound('tenant');
  return toTenantView(row);
}

/** The tenant's current signing secret and every one still valid, for an admin who hands them to receivers. */
export async function getTenantSigningSecret(
  deps: ServiceDeps,
  tenantId: string,
): Promise<{ tenantId: string; signingSecret: string; secrets: ValidSigningSecret[] }> {
  await getTenant(deps, tenantId);
  const secrets = await validSigningSecrets(deps.db, deps.cipher, { tenantId, endpointId: null }, deps.clock.now());
  const current = secrets.find((secret) => secret.expiresAt === null);
  if (!current) throw notFound('signing secret');
  return { tenantId, signingSecret: current.signingSecret, secrets };
}

export async function issueApiKey(deps: ServiceDeps, tenantId: string, scope: KeyScope): Promise<IssuedKey> {
  await getTenant(deps, tenantId);
  return insertApiKey(deps.db, tenantId, scope, generateApiKey(), deps.clock.now());
}

export async function revokeApiKey(deps: ServiceDeps, keyId: string): Promise<void> {
  const [row] = await deps.db.select({ id: apiKeys.id, revokedAt: apiKeys.revokedAt }).from(apiKeys).where(eq(apiKeys.id, keyId));
  if (!row) throw notFound('API key');
  if (!row.revokedAt) {
    await deps.db
      .update(apiKeys)
      .set({ revokedAt: deps.clock.now() })
      .where(and(eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt)));
  }
  authCache.clear();
}

// Keys are checked on every request: a short cache spares the database most lookups. A revocation
// clears this process's cache at once; other processes see it within AUTH_CACHE_MS.
const AUTH_CACHE_MS = 5_000;
const authCache = new Map<string, { principal: Principal | null; until: number }>();

/** The key's owner and scope, or null for an unknown or revoked key. Never logs the key. */
export async function authenticate(deps: ServiceDeps, apiKey: string): Promise<Principal | null> {
  const hash = hashApiKey(apiKey);
  const nowMs = deps.clock.now().getTime();
  const cached = authCache.get(hash);
  if (cached && cached.until > nowMs) return cached.principal;
  const [row] = await deps.db
    .select({ id: apiKeys.id, tenantId: apiKeys.tenantId, scope: apiKeys.scope, keyHash: apiKeys.keyHash, revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .where(eq(apiKeys.keyHash, hash));
  const principal =
    row && !row.revokedAt && timingSafeEqual(Buffer.from(row.keyHash, 'hex'), Buffer.from(hash, 'hex'))
      ? { keyId: row.id, tenantId: row.tenantId, scope: row.scope }
      : null;
  if (authCache.size > 10_000) authCache.clear();
  authCache.set(hash, { principal, until: nowMs + AUTH_CACHE_MS });
  return principal;
}
