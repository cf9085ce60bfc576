/**
 * Applications of the Svix-compatible API: a tenant's customers, each with its endpoints and
 * messages. A `uid` is unique within the tenant and names the application wherever its id does.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { applications, attempts, deliveries, endpoints, messages, signingSecrets } from '../db/schema.ts';
import { notFound, OrbitError } from '../domain/errors.ts';
import { ID_PREFIX, isIdOf, listOut, type ListOut, type ListPage } from '../domain/svix.ts';
import { newId } from '../lib/ids.ts';
import type { ServiceDeps } from './deps.ts';
import { afterKey, isUniqueViolation, keyOrder, lookupApplication, findApplication, uidTaken, type ApplicationRow } from './svix-scope.ts';

const UID_INDEX = 'applications_tenant_uid_idx';

/** Svix's `ApplicationOut`. */
export interface ApplicationView {
  id: string;
  uid: string | null;
  name: string;
  throttleRate: number | null;
  /** Svix's older name of `throttleRate`. */
  rateLimit: number | null;
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export interface ApplicationInput {
  name: string;
  uid?: string | null | undefined;
  throttleRate?: number | null | undefined;
  metadata?: Record<string, string> | undefined;
}

export type ApplicationPatch = Partial<ApplicationInput>;

export function toApplicationView(row: ApplicationRow): ApplicationView {
  return {
    id: row.id,
    uid: row.uid,
    name: row.name,
    throttleRate: row.throttleRate,
    rateLimit: row.throttleRate,
    metadata: row.metadata,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export interface ApplicationListFilter {
  /** Leave out applications without (live) endpoints. */
  excludeWithoutEndpoints?: boolean | undefined;
  /** Leave out applications whose endpoints are all disabled. */
  excludeWithOnlyDisabledEndpoints?: boolean | undefined;
}

const liveEndpointsOf = (enabledOnly: boolean) =>
  sql`exists (select 1 from ${endpoints} where ${endpoints.appId} = ${applications.id} and ${endpoints.deletedAt} is null${
    enabledOnly ? sql` and not ${endpoints.disabled}` : sql``
  })`;

export async function listApplications(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  page: ListPage,
  filter: ApplicationListFilter = {},
): Promise<ListOut<ApplicationView>> {
  const rows = await deps.db
    .select()
    .from(applications)
    .where(
      and(
        eq(applications.tenantId, tenantId),
        filter.excludeWithoutEndpoints === true ? liveEndpointsOf(false) : undefined,
        filter.excludeWithOnlyDisabledEndpoints === true ? sql`(${liveEndpointsOf(true)} or not ${liveEndpointsOf(false)})` : undefined,
        afterKey(applications.id, page),
      ),
    )
    .orderBy(...keyOrder([applications.id], page))
    .limit(page.limit + 1);
  return listOut(rows, page, (row) => row.id, toApplicationView);
}

export async function getApplication(deps: Pick<ServiceDeps, 'db'>, tenantId: string, key: string): Promise<ApplicationView> {
  return toApplicationView(await findApplication(deps.db, tenantId, key));
}

async function insertApplication(db: Queryable, tenantId: string, input: ApplicationInput, now: Date): Promise<ApplicationRow> {
  const [row] = await db
    .insert(applications)
    .values({
      id: newId(ID_PREFIX.app, now.getTime()),
      tenantId,
      uid: input.uid ?? null,
      name: input.name,
      metadata: input.metadata ?? {},
      throttleRate: input.throttleRate ?? null,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return row as ApplicationRow;
}

/**
 * A new application. A `uid` already used in the tenant is a 409, or, with `getIfExists`, answers
 * the existing application (`created: false`) unchanged.
 */
export async function createApplication(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  tenantId: string,
  input: ApplicationInput,
  options: { getIfExists?: boolean } = {},
): Promise<{ application: ApplicationView; created: boolean }> {
  const uid = input.uid ?? null;
  if (uid !== null) {
    const existing = await lookupApplication(deps.db, tenantId, uid);
    if (existing) {
      if (options.getIfExists === true) return { application: toApplicationView(existing), created: false };
      throw uidTaken('application');
    }
  }
  try {
    return { application: toApplicationView(await insertApplication(deps.db, tenantId, input, deps.clock.now())), created: true };
  } catch (error) {
    if (!isUniqueViolation(error, UID_INDEX)) throw error;
    // A concurrent create with the same uid won the race.
    const existing = uid === null ? null : await lookupApplication(deps.db, tenantId, uid);
    if (existing && options.getIfExists === true) return { application: toApplicationView(existing), created: false };
    throw uidTaken('application');
  }
}

/**
 * `PUT /app/{app_id}`: replaces the application's fields, or creates it. A path naming a uid that
 * does not exist yet creates the application with that uid (unless the body gives another); a path
 * naming an unknown id is a 404, since a new application always gets a new id. A body without
 * `uid` keeps the uid the path named (or the one it had); `uid: null` removes it.
 */
export async function upsertApplication(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  tenantId: string,
  key: string,
  input: ApplicationInput,
): Promise<{ application: ApplicationView; created: boolean }> {
  const byId = isIdOf(ID_PREFIX.app, key);
  let existing = await lookupApplication(deps.db, tenantId, key);
  const pathUid = byId ? null : key;
  if (!existing) {
    if (byId) throw notFound('application');
    const uid = input.uid === undefined ? pathUid : input.uid;
    try {
      return await createApplication(deps, tenantId, { ...input, uid }, {});
    } catch (error) {
      // A concurrent upsert of the same uid created it first: this one updates it, as it would have a moment later.
      existing = error instanceof OrbitError && error.code === 'conflict' ? await lookupApplication(deps.db, tenantId, key) : null;
      if (!existing) throw error;
    }
  }
  const uid = input.uid === undefined ? (pathUid ?? existing.uid) : input.uid;
  return {
    application: await updateApplication(deps, existing, {
      name: input.name,
      uid,
      throttleRate: input.throttleRate ?? null,
      metadata: input.metadata ?? {},
    }),
    created: false,
  };
}

/** `PATCH /app/{app_id}`: changes only the fields given (`null` clears `uid` and `throttleRate`). */
export async function patchApplication(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  tenantId: string,
  key: string,
  patch: ApplicationPatch,
): Promise<ApplicationView> {
  const existing = await findApplication(deps.db, tenantId, key);
  return updateApplication(deps, existing, patch);
}

async function updateApplication(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  existing: ApplicationRow,
  changes: ApplicationPatch,
): Promise<ApplicationView> {
  const set: Partial<typeof applications.$inferInsert> = { updatedAt: deps.clock.now() };
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.uid !== undefined) set.uid = changes.uid;
  if (changes.throttleRate !== undefined) set.throttleRate = changes.throttleRate;
  if (changes.metadata !== undefined) set.metadata = changes.metadata;
  try {
    const [row] = await deps.db.update(applications).set(set).where(eq(applications.id, existing.id)).returning();
    if (!row) throw notFound('application');
    return toApplicationView(row);
  } catch (error) {
    if (isUniqueViolation(error, UID_INDEX)) throw uidTaken('application');
    throw error;
  }
}

/**
 * Deletes an application with everything it owns, in one transaction: its endpoints and their
 * secrets, its messages, their deliveries and attempts (Svix deletes an application whole). Jobs
 * still queued for its deliveries find nothing and end.
 */
export async function deleteApplication(deps: Pick<ServiceDeps, 'db'>, tenantId: string, key: string): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const app = await findApplication(tx, tenantId, key);
    // Locked first, so a concurrent change of the application waits for the delete.
    await tx.execute(sql`select 1 from ${applications} where ${applications.id} = ${app.id} for update`);
    const ofApp = tx.select({ id: messages.id }).from(messages).where(eq(messages.appId, app.id));
    const endpointsOfApp = tx.select({ id: endpoints.id }).from(endpoints).where(eq(endpoints.appId, app.id));
    await tx.delete(attempts).where(inArray(attempts.messageId, ofApp));
    await tx.delete(deliveries).where(inArray(deliveries.messageId, ofApp));
    await tx.delete(messages).where(eq(messages.appId, app.id));
    await tx.delete(signingSecrets).where(and(eq(signingSecrets.tenantId, tenantId), inArray(signingSecrets.endpointId, endpointsOfApp)));
    await tx.delete(endpoints).where(eq(endpoints.appId, app.id));
    await tx.delete(applications).where(eq(applications.id, app.id));
  });
}
