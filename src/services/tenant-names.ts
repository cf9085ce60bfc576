/** Tenant names for pages that list tenant ids (the console's log and overview show names). */
import { inArray } from 'drizzle-orm';
import { tenants } from '../db/schema.ts';
import type { ServiceDeps } from './deps.ts';

/** id → name for the given ids; unknown ids are left out. */
export async function tenantNames(deps: Pick<ServiceDeps, 'db'>, ids: readonly string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const rows = await deps.db.select({ id: tenants.id, name: tenants.name }).from(tenants).where(inArray(tenants.id, unique));
  return new Map(rows.map((row) => [row.id, row.name]));
}
