/**
 * Applications as the console and the portal look them up: across tenants for operators (the
 * Svix-compatible services always work inside one tenant), with their names for pages that list
 * ids, and the application endpoints behind the overview's endpoint URLs.
 */
import { and, desc, eq, inArray, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import { applications, endpoints } from '../db/schema.ts';
import { notFound } from '../domain/errors.ts';
import { toApplicationView, type ApplicationView } from './applications.ts';
import type { ServiceDeps } from './deps.ts';

export interface ApplicationSummary extends ApplicationView {
  tenantId: string;
  /** Live (not deleted) endpoints, disabled ones included. */
  endpointCount: number;
}

export interface ApplicationsPage {
  data: ApplicationSummary[];
  /** The last id of the page, for the next one; null when this is the last page. */
  iterator: string | null;
}

// Spelled out: drizzle leaves the columns of a one-table select unqualified, which a subquery would misread.
const liveEndpointCount = sql<number>`(select count(*)::int from endpoints e
  where e.app_id = applications.id and e.kind = 'app' and e.deleted_at is null)`;

/** Applications newest first (ids sort by time), of one tenant or all, with their endpoint counts. */
export async function listApplicationSummaries(
  deps: Pick<ServiceDeps, 'db'>,
  filter: { tenantId?: string | undefined; iterator?: string | undefined; limit: number },
): Promise<ApplicationsPage> {
  const rows = await deps.db
    .select({ row: applications, endpointCount: liveEndpointCount })
    .from(applications)
    .where(
      and(
        filter.tenantId !== undefined ? eq(applications.tenantId, filter.tenantId) : undefined,
        filter.iterator !== undefined ? lt(applications.id, filter.iterator) : undefined,
      ),
    )
    .orderBy(desc(applications.id))
    .limit(filter.limit + 1);
  const page = rows.slice(0, filter.limit);
  return {
    data: page.map(({ row, endpointCount }) => ({ ...toApplicationView(row), tenantId: row.tenantId, endpointCount })),
    iterator: rows.length > filter.limit ? (page.at(-1)?.row.id ?? null) : null,
  };
}

/** An application by its id, whatever its tenant (an operator's look-up); 404 otherwise. */
export async function applicationById(deps: Pick<ServiceDeps, 'db'>, appId: string): Promise<ApplicationSummary> {
  const [found] = await deps.db
    .select({ row: applications, endpointCount: liveEndpointCount })
    .from(applications)
    .where(eq(applications.id, appId));
  if (!found) throw notFound('application');
  return { ...toApplicationView(found.row), tenantId: found.row.tenantId, endpointCount: found.endpointCount };
}

/** id → name for the given application ids; unknown ids are left out. */
export async function applicationNames(deps: Pick<ServiceDeps, 'db'>, ids: readonly (string | null)[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids.filter((id): id is string => id !== null))];
  if (unique.length === 0) return new Map();
  const rows = await deps.db
    .select({ id: applications.id, name: applications.name })
    .from(applications)
    .where(inArray(applications.id, unique));
  return new Map(rows.map((row) => [row.id, row.name]));
}

export interface EndpointRef {
  id: string;
  appId: string;
}

/**
 * The live application endpoints whose URL, without query and fragment, is one of the given keys
 * (the overview groups failures by that text). Run webhooks are left out: they are one internal
 * endpoint per run. Application endpoints are few, so this reads their partial index whole.
 */
export async function applicationEndpointsByUrl(
  deps: Pick<ServiceDeps, 'db'>,
  urlKeys: readonly string[],
): Promise<Map<string, EndpointRef[]>> {
  const byKey = new Map<string, EndpointRef[]>();
  if (urlKeys.length === 0) return byKey;
  const key = sql<string>`left(split_part(split_part(${endpoints.url}, '?', 1), '#', 1), 300)`;
  const rows = await deps.db
    .select({ id: endpoints.id, appId: endpoints.appId, key })
    .from(endpoints)
    .where(and(isNotNull(endpoints.appId), eq(endpoints.kind, 'app'), isNull(endpoints.deletedAt), inArray(key, [...urlKeys])))
    .orderBy(endpoints.id);
  for (const row of rows) {
    if (row.appId === null) continue;
    byKey.set(row.key, [...(byKey.get(row.key) ?? []), { id: row.id, appId: row.appId }]);
  }
  return byKey;
}
