/**
 * A tenant's operational webhook endpoints (Svix SDK `operationalWebhookEndpoint`,
 * `/api/v1/operational-webhook/endpoint`): where Orbit sends the tenant's operational events
 * (services/operational.ts). Rows of `endpoints` with kind `operational` and no application; each
 * has its own secret. The deployment's own endpoint (ORBIT_OPERATIONAL_WEBHOOK_URL) is not among
 * them: it is configuration, not a tenant's.
 */
import { and, eq, isNull, ne, or, sql } from 'drizzle-orm';
import { endpoints } from '../db/schema.ts';
import { notFound, OrbitError, type ErrorDetail } from '../domain/errors.ts';
import { generateSigningSecret, normaliseSigningSecret, parseSigningSecret, SIGNING_SECRET_RULE } from '../domain/signing.ts';
import { ID_PREFIX, isIdOf, listOut, splitSensitiveHeaders, type ListOut, type ListPage } from '../domain/svix.ts';
import { customHeaderProblems, webhookUrlProblem } from '../domain/webhook.ts';
import { newId } from '../lib/ids.ts';
import type { ServiceDeps } from './deps.ts';
import { DEPLOYMENT_ENDPOINT_UID, OPERATIONAL_EVENT_TYPES } from './operational.ts';
import { endpointSecret, rotateEndpointSigningSecret } from './signing-rotation.ts';
import { insertSigningSecret } from './signing-secrets.ts';
import { afterKey, keyOrder, uidTaken, type EndpointRow } from './svix-scope.ts';

/** Svix's `OperationalWebhookEndpointOut`. */
export interface OperationalEndpointView {
  id: string;
  uid: string | null;
  url: string;
  description: string;
  disabled: boolean;
  eventTypes: string[] | null;
  throttleRate: number | null;
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export interface OperationalEndpointFields {
  url: string;
  description?: string | undefined;
  uid?: string | null | undefined;
  disabled?: boolean | undefined;
  eventTypes?: string[] | null | undefined;
  throttleRate?: number | null | undefined;
  metadata?: Record<string, string> | undefined;
}

export interface OperationalEndpointInput extends OperationalEndpointFields {
  secret?: string | null | undefined;
  headers?: Record<string, string> | null | undefined;
}

type Deps = Pick<ServiceDeps, 'db' | 'clock' | 'cipher' | 'webhookRules'>;

function toView(row: EndpointRow): OperationalEndpointView {
  return {
    id: row.id,
    uid: row.uid,
    url: row.url,
    description: row.description,
    disabled: row.disabled,
    eventTypes: row.filterTypes,
    throttleRate: row.throttleRate,
    metadata: row.metadata,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The tenant's live operational endpoints (never the deployment's own). */
const ownedBy = (tenantId: string) =>
  and(
    eq(endpoints.tenantId, tenantId),
    eq(endpoints.kind, 'operational'),
    isNull(endpoints.deletedAt),
    or(isNull(endpoints.uid), ne(endpoints.uid, DEPLOYMENT_ENDPOINT_UID)),
  );

async function lookup(deps: Pick<ServiceDeps, 'db'>, tenantId: string, key: string): Promise<EndpointRow | null> {
  const [row] = await deps.db
    .select()
    .from(endpoints)
    .where(and(ownedBy(tenantId), isIdOf(ID_PREFIX.endpoint, key) ? eq(endpoints.id, key) : eq(endpoints.uid, key)));
  return row ?? null;
}

async function find(deps: Pick<ServiceDeps, 'db'>, tenantId: string, key: string): Promise<EndpointRow> {
  const row = await lookup(deps, tenantId, key);
  if (!row) throw notFound('endpoint');
  return row;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(OPERATIONAL_EVENT_TYPES);

function check(deps: Pick<ServiceDeps, 'webhookRules'>, fields: Partial<OperationalEndpointInput>): void {
  const details: ErrorDetail[] = [];
  if (fields.url !== undefined) {
    const problem = webhookUrlProblem(fields.url, deps.webhookRules);
    if (problem) details.push({ path: 'body.url', message: problem });
  }
  for (const [name, message] of customHeaderProblems(fields.headers ?? {})) {
    details.push({ path: 'body.headers', message: name ? `${name}: ${message}` : message });
  }
  const unknown = (fields.eventTypes ?? []).filter((type) => !KNOWN_TYPES.has(type));
  if (unknown.length > 0) {
    details.push({
      path: 'body.eventTypes',
      message: `not operational event types: ${unknown.join(', ')} (they are ${OPERATIONAL_EVENT_TYPES.join(', ')})`,
    });
  }
  if (fields.secret != null && parseSigningSecret(fields.secret) === null)
    details.push({ path: 'body.secret', message: SIGNING_SECRET_RULE });
  if (details.length > 0) throw new OrbitError('validation_failed', 'the request is not valid', details);
}

async function uidFree(deps: Pick<ServiceDeps, 'db'>, tenantId: string, uid: string | null | undefined, except?: string): Promise<void> {
  if (uid == null) return;
  const [taken] = await deps.db
    .select({ id: endpoints.id })
    .from(endpoints)
    .where(and(ownedBy(tenantId), eq(endpoints.uid, uid), except === undefined ? undefined : ne(endpoints.id, except)))
    .limit(1);
  if (taken) throw uidTaken('endpoint');
}

const distinct = (values: readonly string[] | null | undefined): string[] | null => (values ? [...new Set(values)] : null);

export async function listOperationalEndpoints(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  page: ListPage,
): Promise<ListOut<OperationalEndpointView>> {
  const rows = await deps.db
    .select()
    .from(endpoints)
    .where(and(ownedBy(tenantId), afterKey(endpoints.id, page)))
    .orderBy(...keyOrder([endpoints.id], page))
    .limit(page.limit + 1);
  return listOut(rows, page, (row) => row.id, toView);
}

export async function getOperationalEndpoint(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  key: string,
): Promise<OperationalEndpointView> {
  return toView(await find(deps, tenantId, key));
}

export async function createOperationalEndpoint(
  deps: Deps,
  tenantId: string,
  input: OperationalEndpointInput,
): Promise<OperationalEndpointView> {
  check(deps, input);
  await uidFree(deps, tenantId, input.uid);
  const now = deps.clock.now();
  const id = newId(ID_PREFIX.endpoint, now.getTime());
  const secret = normaliseSigningSecret(input.secret ?? generateSigningSecret());
  const row = await deps.db.transaction(async (tx) => {
    const [inserted] = await tx
      .insert(endpoints)
      .values({
        id,
        tenantId,
        kind: 'operational',
        uid: input.uid ?? null,
        url: input.url,
        description: input.description ?? '',
        filterTypes: distinct(input.eventTypes),
        disabled: input.disabled ?? false,
        headers: input.headers ?? {},
        metadata: input.metadata ?? {},
        throttleRate: input.throttleRate ?? null,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    await insertSigningSecret(deps, tx, { tenantId, endpointId: id }, secret, now);
    return inserted as EndpointRow;
  });
  return toView(row);
}

/** `PUT`: replaces the fields (secret and headers stay); a uid not in use creates the endpoint. */
export async function upsertOperationalEndpoint(
  deps: Deps,
  tenantId: string,
  key: string,
  fields: OperationalEndpointFields,
): Promise<{ endpoint: OperationalEndpointView; created: boolean }> {
  const existing = await lookup(deps, tenantId, key);
  if (!existing) {
    if (isIdOf(ID_PREFIX.endpoint, key)) throw notFound('endpoint');
    return {
      endpoint: await createOperationalEndpoint(deps, tenantId, { ...fields, uid: fields.uid === undefined ? key : fields.uid }),
      created: true,
    };
  }
  check(deps, fields);
  const uid = fields.uid === undefined ? existing.uid : fields.uid;
  await uidFree(deps, tenantId, uid, existing.id);
  const [row] = await deps.db
    .update(endpoints)
    .set({
      url: fields.url,
      description: fields.description ?? '',
      uid,
      filterTypes: distinct(fields.eventTypes),
      disabled: fields.disabled ?? false,
      throttleRate: fields.throttleRate ?? null,
      metadata: fields.metadata ?? {},
      updatedAt: deps.clock.now(),
    })
    .where(and(eq(endpoints.id, existing.id), sql`${endpoints.deletedAt} is null`))
    .returning();
  if (!row) throw notFound('endpoint');
  return { endpoint: toView(row), created: false };
}

/** Deleted softly (the log keeps its deliveries); its pending deliveries are skipped when due. */
export async function deleteOperationalEndpoint(deps: Pick<ServiceDeps, 'db' | 'clock'>, tenantId: string, key: string): Promise<void> {
  const existing = await find(deps, tenantId, key);
  await deps.db.update(endpoints).set({ deletedAt: deps.clock.now() }).where(eq(endpoints.id, existing.id));
}

export async function getOperationalEndpointSecret(
  deps: Pick<ServiceDeps, 'db' | 'cipher'>,
  tenantId: string,
  key: string,
): Promise<{ key: string }> {
  const endpoint = await find(deps, tenantId, key);
  return endpointSecret(deps, { tenantId, endpointId: endpoint.id });
}

export async function rotateOperationalEndpointSecret(
  deps: Pick<ServiceDeps, 'db' | 'clock' | 'cipher'>,
  tenantId: string,
  key: string,
  input: { key?: string | null | undefined; gracePeriodSeconds?: number | null | undefined },
): Promise<void> {
  const endpoint = await find(deps, tenantId, key);
  await rotateEndpointSigningSecret(deps, { tenantId, endpointId: endpoint.id }, input);
}

export async function getOperationalEndpointHeaders(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  key: string,
): Promise<{ headers: Record<string, string>; sensitive: string[] }> {
  return splitSensitiveHeaders((await find(deps, tenantId, key)).headers);
}

export async function setOperationalEndpointHeaders(
  deps: Pick<ServiceDeps, 'db' | 'clock' | 'webhookRules'>,
  tenantId: string,
  key: string,
  headers: Record<string, string>,
): Promise<void> {
  const endpoint = await find(deps, tenantId, key);
  check(deps, { headers });
  await deps.db.update(endpoints).set({ headers, updatedAt: deps.clock.now() }).where(eq(endpoints.id, endpoint.id));
}
