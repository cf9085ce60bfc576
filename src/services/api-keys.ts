/** A tenant's API keys as the console lists them: ids, scopes and dates, never the keys themselves. */
import { asc, eq } from 'drizzle-orm';
import { apiKeys } from '../db/schema.ts';
import { notFound } from '../domain/errors.ts';
import type { ServiceDeps } from './deps.ts';
import type { KeyScope } from './tenants.ts';

export interface ApiKeyView {
  id: string;
  tenantId: string;
  scope: KeyScope;
  createdAt: string;
  revokedAt: string | null;
}

const toView = (row: typeof apiKeys.$inferSelect): ApiKeyView => ({
  id: row.id,
  tenantId: row.tenantId,
  scope: row.scope,
  createdAt: row.createdAt.toISOString(),
  revokedAt: row.revokedAt?.toISOString() ?? null,
});

/** Every key of a tenant, oldest first (a tenant has a handful). */
export async function listApiKeys(deps: Pick<ServiceDeps, 'db'>, tenantId: string): Promise<ApiKeyView[]> {
  const rows = await deps.db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(asc(apiKeys.id));
  return rows.map(toView);
}

export async function getApiKey(deps: Pick<ServiceDeps, 'db'>, keyId: string): Promise<ApiKeyView> {
  const [row] = await deps.db.select().from(apiKeys).where(eq(apiKeys.id, keyId));
  if (!row) throw notFound('API key');
  return toView(row);
}
