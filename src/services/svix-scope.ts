/**
 * What every use case of the Svix-compatible API shares: finding an application, an endpoint or a
 * message by id or uid within its tenant (another tenant's answer as unknown ones: 404), and the
 * keyset paging of Svix lists.
 */
import { and, asc, desc, eq, gt, isNull, lt, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { applications, endpoints, messages } from '../db/schema.ts';
import { notFound, OrbitError } from '../domain/errors.ts';
import { ID_PREFIX, isIdOf, readsAscending, type ListPage } from '../domain/svix.ts';
import { errorCodes } from '../lib/error-codes.ts';

export type ApplicationRow = typeof applications.$inferSelect;
export type EndpointRow = typeof endpoints.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;

/** An application of the tenant by id (`app_…`) or uid; 404 otherwise. */
export async function findApplication(db: Queryable, tenantId: string, key: string): Promise<ApplicationRow> {
  const found = await lookupApplication(db, tenantId, key);
  if (!found) throw notFound('application');
  return found;
}

export async function lookupApplication(db: Queryable, tenantId: string, key: string): Promise<ApplicationRow | null> {
  const [row] = await db
    .select()
    .from(applications)
    .where(and(eq(applications.tenantId, tenantId), isIdOf(ID_PREFIX.app, key) ? eq(applications.id, key) : eq(applications.uid, key)));
  return row ?? null;
}

/** A live (not deleted) endpoint of the application by id (`ep_…`) or uid. */
export async function lookupEndpoint(db: Queryable, appId: string, key: string): Promise<EndpointRow | null> {
  const [row] = await db
    .select()
    .from(endpoints)
    .where(
      and(
        eq(endpoints.appId, appId),
        eq(endpoints.kind, 'app'),
        isNull(endpoints.deletedAt),
        isIdOf(ID_PREFIX.endpoint, key) ? eq(endpoints.id, key) : eq(endpoints.uid, key),
      ),
    );
  return row ?? null;
}

export async function findEndpoint(db: Queryable, appId: string, key: string): Promise<EndpointRow> {
  const found = await lookupEndpoint(db, appId, key);
  if (!found) throw notFound('endpoint');
  return found;
}

/** A message of the application by id (`msg_…`) or by the `eventId` its sender gave it. */
export async function findMessage(db: Queryable, appId: string, key: string): Promise<MessageRow> {
  const [row] = await db
    .select()
    .from(messages)
    .where(and(eq(messages.appId, appId), isIdOf(ID_PREFIX.message, key) ? eq(messages.id, key) : eq(messages.eventId, key)));
  if (!row) throw notFound('message');
  return row;
}

/** A unique-index violation (SQLSTATE 23505) on the named index. */
export function isUniqueViolation(error: unknown, index: string): boolean {
  const constraint = (error as { constraint_name?: unknown; cause?: { constraint_name?: unknown } }).cause?.constraint_name;
  const direct = (error as { constraint_name?: unknown }).constraint_name;
  return errorCodes(error).includes('23505') && (constraint === index || direct === index);
}

export const uidTaken = (what: string) => new OrbitError('conflict', `an ${what} with this uid already exists`);

// ---- keyset paging ----------------------------------------------------------------------------

/** Rows after the page's iterator in the query's direction, keyed by one column. */
export function afterKey(column: AnyColumn, page: ListPage): SQL | undefined {
  if (page.iterator === null) return undefined;
  return readsAscending(page) ? gt(column, page.iterator) : lt(column, page.iterator);
}

export function keyOrder(columns: readonly AnyColumn[], page: ListPage): SQL[] {
  return columns.map((column) => (readsAscending(page) ? asc(column) : desc(column)));
}

/**
 * Rows after the page's iterator when the list is sorted by (time, id): the iterator names a row by
 * its id, whose time is read back with `timeOf` (a subquery on the same table), so a page is one
 * range scan of a (…, time, id) index. An iterator naming no row lists nothing.
 */
export function afterTimedKey(time: AnyColumn, id: AnyColumn, page: ListPage, timeOf: SQL): SQL | undefined {
  if (page.iterator === null) return undefined;
  const cursor = sql`(${timeOf}, ${page.iterator}::text collate "C")`;
  return readsAscending(page) ? sql`(${time}, ${id}) > ${cursor}` : sql`(${time}, ${id}) < ${cursor}`;
}
