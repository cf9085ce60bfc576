/**
 * Event types of the Svix-compatible API: the names a tenant's messages carry and endpoints filter
 * on, with their JSON Schemas (where example payloads come from). Deleting one archives it (Svix's
 * default): endpoints can no longer start filtering on it; `expunge` deletes it for good.
 */
import { and, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import { eventTypes } from '../db/schema.ts';
import { notFound, OrbitError } from '../domain/errors.ts';
import { listOut, type ListOut, type ListPage } from '../domain/svix.ts';
import type { ServiceDeps } from './deps.ts';
import { afterKey, isUniqueViolation, keyOrder } from './svix-scope.ts';

type EventTypeRow = typeof eventTypes.$inferSelect;

/** Svix's `EventTypeOut`. */
export interface EventTypeView {
  name: string;
  description: string;
  archived: boolean;
  deprecated: boolean;
  schemas: Record<string, unknown> | null;
  groupName: string | null;
  featureFlag: string | null;
  featureFlags: string[] | null;
  createdAt: string;
  updatedAt: string;
}

export interface EventTypeFields {
  description: string;
  archived?: boolean | undefined;
  deprecated?: boolean | undefined;
  schemas?: Record<string, unknown> | null | undefined;
  groupName?: string | null | undefined;
  featureFlag?: string | null | undefined;
}

export type EventTypePatch = Partial<EventTypeFields>;

function toView(row: EventTypeRow, withContent = true): EventTypeView {
  return {
    name: row.name,
    description: row.description,
    archived: row.archived,
    deprecated: row.deprecated,
    schemas: withContent ? (row.schemas ?? null) : null,
    groupName: row.groupName,
    featureFlag: row.featureFlag,
    featureFlags: row.featureFlag === null ? null : [row.featureFlag],
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

const byName = (tenantId: string, name: string) => and(eq(eventTypes.tenantId, tenantId), eq(eventTypes.name, name));

async function find(deps: Pick<ServiceDeps, 'db'>, tenantId: string, name: string): Promise<EventTypeRow | null> {
  const [row] = await deps.db.select().from(eventTypes).where(byName(tenantId, name));
  return row ?? null;
}

export async function listEventTypes(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  page: ListPage,
  options: { includeArchived: boolean; withContent: boolean },
): Promise<ListOut<EventTypeView>> {
  const rows = await deps.db
    .select()
    .from(eventTypes)
    .where(
      and(
        eq(eventTypes.tenantId, tenantId),
        options.includeArchived ? undefined : eq(eventTypes.archived, false),
        afterKey(eventTypes.name, page),
      ),
    )
    .orderBy(...keyOrder([eventTypes.name], page))
    .limit(page.limit + 1);
  return listOut(
    rows,
    page,
    (row) => row.name,
    (row) => toView(row, options.withContent),
  );
}

export async function getEventType(deps: Pick<ServiceDeps, 'db'>, tenantId: string, name: string): Promise<EventTypeView> {
  const row = await find(deps, tenantId, name);
  if (!row) throw notFound('event type');
  return toView(row);
}

/** The row's columns for the given fields (all of them: absent ones take their defaults). */
function columnsOf(fields: EventTypeFields) {
  return {
    description: fields.description,
    archived: fields.archived ?? false,
    deprecated: fields.deprecated ?? false,
    schemas: fields.schemas ?? null,
    groupName: fields.groupName ?? null,
    featureFlag: fields.featureFlag ?? null,
  };
}

/**
 * A new event type, or an archived one brought back with the given fields (Svix's create). One that
 * exists and is not archived is a 409.
 */
export async function createEventType(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  tenantId: string,
  name: string,
  fields: EventTypeFields,
): Promise<EventTypeView> {
  const now = deps.clock.now();
  const existing = await find(deps, tenantId, name);
  if (existing && !existing.archived) throw new OrbitError('conflict', 'an event type with this name already exists');
  if (existing) {
    const [row] = await deps.db
      .update(eventTypes)
      .set({ ...columnsOf(fields), updatedAt: now })
      .where(byName(tenantId, name))
      .returning();
    return toView(row as EventTypeRow);
  }
  try {
    const [row] = await deps.db
      .insert(eventTypes)
      .values({ tenantId, name, ...columnsOf(fields), createdAt: now, updatedAt: now })
      .returning();
    return toView(row as EventTypeRow);
  } catch (error) {
    if (isUniqueViolation(error, 'event_types_tenant_id_name_pk')) {
      throw new OrbitError('conflict', 'an event type with this name already exists');
    }
    throw error;
  }
}

/** `PUT /event-type/{name}`: replaces its fields, or creates it. */
export async function upsertEventType(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  tenantId: string,
  name: string,
  fields: EventTypeFields,
): Promise<{ eventType: EventTypeView; created: boolean }> {
  const now = deps.clock.now();
  const [row] = await deps.db
    .insert(eventTypes)
    .values({ tenantId, name, ...columnsOf(fields), createdAt: now, updatedAt: now })
    .onConflictDoUpdate({ target: [eventTypes.tenantId, eventTypes.name], set: { ...columnsOf(fields), updatedAt: now } })
    .returning({ ...getTableColumns(eventTypes), inserted: sql<boolean>`(xmax = 0)` });
  // xmax is 0 on a row this statement inserted, and set on one it updated.
  const { inserted, ...stored } = row as EventTypeRow & { inserted: boolean };
  return { eventType: toView(stored), created: inserted };
}

export async function patchEventType(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  tenantId: string,
  name: string,
  patch: EventTypePatch,
): Promise<EventTypeView> {
  const set: Partial<typeof eventTypes.$inferInsert> = { updatedAt: deps.clock.now() };
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.archived !== undefined) set.archived = patch.archived;
  if (patch.deprecated !== undefined) set.deprecated = patch.deprecated;
  if (patch.schemas !== undefined) set.schemas = patch.schemas;
  if (patch.groupName !== undefined) set.groupName = patch.groupName;
  if (patch.featureFlag !== undefined) set.featureFlag = patch.featureFlag;
  const [row] = await deps.db.update(eventTypes).set(set).where(byName(tenantId, name)).returning();
  if (!row) throw notFound('event type');
  return toView(row);
}

/** Archives the event type, or with `expunge` deletes it. Endpoints filtering on it keep their filter. */
export async function deleteEventType(
  deps: Pick<ServiceDeps, 'db' | 'clock'>,
  tenantId: string,
  name: string,
  options: { expunge: boolean },
): Promise<void> {
  const rows = options.expunge
    ? await deps.db.delete(eventTypes).where(byName(tenantId, name)).returning({ name: eventTypes.name })
    : await deps.db
        .update(eventTypes)
        .set({ archived: true, updatedAt: deps.clock.now() })
        .where(byName(tenantId, name))
        .returning({ name: eventTypes.name });
  if (rows.length === 0) throw notFound('event type');
}

/** The names among `names` that are not live (unknown or archived) event types of the tenant. */
export async function unknownEventTypes(deps: Pick<ServiceDeps, 'db'>, tenantId: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await deps.db
    .select({ name: eventTypes.name })
    .from(eventTypes)
    .where(and(eq(eventTypes.tenantId, tenantId), inArray(eventTypes.name, [...names]), eq(eventTypes.archived, false)));
  const known = new Set(rows.map((row) => row.name));
  return names.filter((name) => !known.has(name));
}

/** An event type's schemas (for its example payload), or 404 when the tenant has no such event type. */
export async function eventTypeSchemas(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  name: string,
): Promise<Record<string, unknown> | null> {
  const row = await find(deps, tenantId, name);
  if (!row) throw notFound('event type');
  return row.schemas ?? null;
}
