/**
 * Delivery-engine test helpers: a fresh database with pg-boss started, a sender allowed to reach
 * loopback, a worker, and rows (tenant, signing secret, message) written directly in SQL.
 */
import { asc, eq } from 'drizzle-orm';
import type { PgBoss } from 'pg-boss';
import { openClaimsPool, openDatabase, type DatabaseHandle, type Queryable } from '../../src/db/client.ts';
import { applications, attempts, deliveries, endpoints, messages, signingSecrets, tenants } from '../../src/db/schema.ts';
import { parseCidrList } from '../../src/domain/network.ts';
import { generateSigningSecret } from '../../src/domain/signing.ts';
import { createSecretCipher } from '../../src/lib/cipher.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { newId } from '../../src/lib/ids.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { createBoss, startBoss } from '../../src/queue/boss.ts';
import { enqueueDeliveries } from '../../src/queue/delivery-queue.ts';
import { createSender, type Sender } from '../../src/sender/sender.ts';
import type { DeliveryDeps } from '../../src/services/delivery.ts';
import type { DeliverySettings } from '../../src/services/deps.ts';
import { startDeliveryWorker, type DeliveryWorker } from '../../src/worker/delivery-worker.ts';

export const LOOPBACK = parseCidrList('127.0.0.0/8') ?? [];

export interface HarnessOptions {
  retrySchedule?: number[];
  retryJitter?: number;
  deliveryTimeoutMs?: number;
  /** ORBIT_ENDPOINT_DISABLE_AFTER in ms (default 5 days). */
  endpointDisableAfterMs?: number;
  concurrency?: number;
  /** Default true; false to drive `prepareDeliveries` and `attemptDelivery` by hand. */
  worker?: boolean;
  /** Defaults to a fresh test database (only inside vitest). */
  databaseUrl?: string;
}

export interface DeliveryHarness extends DatabaseHandle {
  url: string;
  /** The worker's claims pool, as src/cli.ts opens it (openClaimsPool): pass it as `claims`. */
  claims: DatabaseHandle['sql'];
  boss: PgBoss;
  sender: Sender;
  deps: DeliveryDeps;
  /** Mutable: a test may change the ladder for its own messages. */
  settings: DeliverySettings;
  worker: DeliveryWorker | null;
  close(): Promise<void>;
}

export async function startDeliveryHarness(options: HarnessOptions = {}): Promise<DeliveryHarness> {
  // Imported lazily: database.ts needs vitest's runner, and benchmarks pass their own URL.
  const url = options.databaseUrl ?? (await (await import('./database.ts')).createTestDatabase());
  // As the worker process opens it (src/cli.ts).
  const handle = openDatabase(url, { poolSize: 10, genericPlans: true });
  const claims = openClaimsPool(url);
  const settings: DeliverySettings = {
    retrySchedule: options.retrySchedule ?? [20, 20, 20, 20, 20],
    retryJitter: options.retryJitter ?? 0,
    deliveryTimeoutMs: options.deliveryTimeoutMs ?? 2_000,
    ...(options.endpointDisableAfterMs === undefined ? {} : { endpointDisableAfterMs: options.endpointDisableAfterMs }),
  };
  const boss = createBoss({ connectionString: url, logger: silentLogger, poolSize: 6 });
  await startBoss(boss, { deliveryTimeoutMs: settings.deliveryTimeoutMs });
  const sender = createSender({
    timeoutMs: settings.deliveryTimeoutMs,
    maxConnectionsPerOrigin: 32,
    allowPrivateNetworks: LOOPBACK,
    clock: systemClock,
  });
  let worker: DeliveryWorker | null = null;
  const deps: DeliveryDeps = {
    db: handle.db,
    sql: handle.sql,
    boss,
    clock: systemClock,
    logger: silentLogger,
    random: Math.random,
    cipher: createSecretCipher(undefined),
    delivery: settings,
    webhookRules: { allowHttp: true, allowPrivateNetworks: LOOPBACK },
    onEnqueued: () => worker?.wake(),
    sender,
  };
  if (options.worker !== false) worker = await startDeliveryWorker(deps, { concurrency: options.concurrency ?? 64, claims: claims.sql });
  return {
    ...handle,
    url,
    claims: claims.sql,
    boss,
    sender,
    deps,
    settings,
    get worker() {
      return worker;
    },
    async close() {
      await worker?.stop();
      await boss.stop({ graceful: true, timeout: 5_000 });
      await sender.close();
      await Promise.all([handle.close(), claims.close()]);
    },
  };
}

export interface TenantFixture {
  tenantId: string;
  /** Newest first, as they sign. */
  secrets: string[];
}

/** A tenant with one signing secret, or several (a rotation in its grace period, newest last given). */
export async function createTenant(h: DatabaseHandle, count = 1): Promise<TenantFixture> {
  const tenantId = newId('ten');
  await h.db.insert(tenants).values({ id: tenantId, name: `tenant ${tenantId}` });
  const secrets: string[] = [];
  const base = Date.now() - 60_000;
  for (let i = 0; i < count; i++) {
    const secret = generateSigningSecret();
    const newest = i === count - 1;
    await h.db.insert(signingSecrets).values({
      id: newId('sec'),
      tenantId,
      secret,
      createdAt: new Date(base + i * 1000),
      // Older secrets are in their grace period.
      expiresAt: newest ? null : new Date(Date.now() + 3_600_000),
    });
    secrets.unshift(secret);
  }
  return { tenantId, secrets };
}

export interface MessageInput {
  tenantId: string;
  url: string;
  payload?: string;
  headers?: Record<string, string>;
  eventType?: string;
}

export function samplePayload(type = 'run.completed'): string {
  return JSON.stringify({
    success: true,
    type,
    runId: newId('run'),
    workflowId: 'wf_test',
    data: { status: 'COMPLETED', completedNodes: 5, failedNodes: 0 },
    metadata: { orderId: 'order_456', note: 'ünïcødé ✓' },
    error: null,
    createdAt: new Date().toISOString(),
  });
}

/** An endpoint as a run's webhook makes one (signing with its tenant's secrets). */
export async function createEndpoint(
  db: Queryable,
  input: { tenantId: string; url: string; headers?: Record<string, string> },
): Promise<string> {
  const id = newId('ep');
  await db.insert(endpoints).values({ id, tenantId: input.tenantId, kind: 'run', url: input.url, headers: input.headers ?? {} });
  return id;
}

export interface AppEndpointInput {
  tenantId: string;
  url: string;
  /** The endpoint's own rate. */
  throttleRate?: number | null;
  /** Its application's rate. */
  appThrottleRate?: number | null;
  ordered?: boolean;
  /** An existing application to add the endpoint to. */
  appId?: string;
}

export interface AppEndpointFixture {
  appId: string;
  endpointId: string;
  /** The endpoint's own signing secret. */
  secret: string;
}

/** An application (unless given) and a standing endpoint of it with its own secret, as the Svix-compatible API makes them. */
export async function createAppEndpoint(db: Queryable, input: AppEndpointInput): Promise<AppEndpointFixture> {
  const appId = input.appId ?? newId('app');
  if (input.appId === undefined) {
    await db
      .insert(applications)
      .values({ id: appId, tenantId: input.tenantId, name: `app ${appId}`, throttleRate: input.appThrottleRate ?? null });
  }
  const endpointId = newId('ep');
  await db.insert(endpoints).values({
    id: endpointId,
    tenantId: input.tenantId,
    kind: 'app',
    appId,
    url: input.url,
    throttleRate: input.throttleRate ?? null,
    ordered: input.ordered ?? false,
  });
  const secret = generateSigningSecret();
  await db.insert(signingSecrets).values({ id: newId('sec'), tenantId: input.tenantId, endpointId, secret });
  return { appId, endpointId, secret };
}

/**
 * Rows (endpoints, messages, their pending deliveries) and first jobs for the inputs, in one
 * transaction, as the runs API writes them; one endpoint per distinct tenant, URL and headers.
 */
async function writeMessages(h: DeliveryHarness, inputs: readonly MessageInput[], options: { grouped: boolean }): Promise<string[]> {
  const ids = inputs.map(() => newId('msg'));
  await h.db.transaction(async (tx) => {
    const endpointOf = new Map<string, string>();
    for (const input of inputs) {
      const key = JSON.stringify([input.tenantId, input.url, input.headers ?? {}]);
      if (!endpointOf.has(key)) endpointOf.set(key, await createEndpoint(tx, input));
    }
    const rows = inputs.map((input, index) => ({
      id: ids[index] as string,
      input,
      endpointId: endpointOf.get(JSON.stringify([input.tenantId, input.url, input.headers ?? {}])) as string,
    }));
    for (let i = 0; i < rows.length; i += 1000) {
      const chunk = rows.slice(i, i + 1000);
      await tx.insert(messages).values(chunk.map(({ id, input }) => messageRow(id, input)));
      await tx.insert(deliveries).values(
        chunk.map(({ id, input, endpointId }) => ({
          messageId: id,
          endpointId,
          tenantId: input.tenantId,
          status: 'pending' as const,
          nextAttemptAt: new Date(),
        })),
      );
      await enqueueDeliveries(
        h.boss,
        chunk.map(({ id, input, endpointId }) => ({
          messageId: id,
          endpointId,
          step: 1,
          trigger: 'scheduled' as const,
          ...(options.grouped ? { url: input.url } : {}),
        })),
        { drizzle: tx },
      );
    }
  });
  h.deps.onEnqueued();
  return ids;
}

/** Inserts a message, its endpoint and delivery and its first job in one transaction, then wakes. */
export async function queueMessage(h: DeliveryHarness, input: MessageInput): Promise<string> {
  const [id] = await writeMessages(h, [input], { grouped: false });
  return id as string;
}

/** Many messages with their jobs in one transaction (benchmarks); jobs without a per-origin group. */
export async function queueMessages(h: DeliveryHarness, inputs: readonly MessageInput[]): Promise<string[]> {
  return writeMessages(h, inputs, { grouped: false });
}

/** Messages whose jobs carry their URL's origin as pg-boss group, as the runs API writes them. */
export async function queueGroupedMessages(h: DeliveryHarness, tenantId: string, url: string, count: number): Promise<string[]> {
  return writeMessages(
    h,
    Array.from({ length: count }, () => ({ tenantId, url })),
    { grouped: true },
  );
}

function messageRow(id: string, input: MessageInput): typeof messages.$inferInsert {
  return {
    id,
    tenantId: input.tenantId,
    runId: newId('run'),
    workflowId: 'wf_test',
    eventId: newId('evt'),
    eventType: input.eventType ?? 'run.completed',
    payload: input.payload ?? samplePayload(input.eventType),
  };
}

/** A message with the state of its (one) delivery. */
export async function getMessage(h: DatabaseHandle, id: string) {
  const [row] = await h.db
    .select({
      id: messages.id,
      tenantId: messages.tenantId,
      payload: messages.payload,
      endpointId: deliveries.endpointId,
      status: deliveries.status,
      attemptCount: deliveries.attemptCount,
      nextAttemptAt: deliveries.nextAttemptAt,
      deliveredAt: deliveries.deliveredAt,
      failureReason: deliveries.failureReason,
    })
    .from(messages)
    .innerJoin(deliveries, eq(deliveries.messageId, messages.id))
    .where(eq(messages.id, id));
  if (row === undefined) throw new Error(`message ${id} not found`);
  return row;
}

export async function getAttempts(h: DatabaseHandle, messageId: string) {
  return h.db.select().from(attempts).where(eq(attempts.messageId, messageId)).orderBy(asc(attempts.attempt));
}
