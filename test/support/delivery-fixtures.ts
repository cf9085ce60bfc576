/**
 * Delivery-engine test helpers: a fresh database with pg-boss started, a sender allowed to reach
 * loopback, a worker, and rows (tenant, signing secret, message) written directly in SQL.
 */
import { asc, eq } from 'drizzle-orm';
import type { PgBoss } from 'pg-boss';
import { openDatabase, type DatabaseHandle } from '../../src/db/client.ts';
import { attempts, messages, signingSecrets, tenants } from '../../src/db/schema.ts';
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
  concurrency?: number;
  /** Default true; false to drive `attemptDeliveries` by hand. */
  worker?: boolean;
  /** Defaults to a fresh test database (only inside vitest). */
  databaseUrl?: string;
}

export interface DeliveryHarness extends DatabaseHandle {
  url: string;
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
  const handle = openDatabase(url, { poolSize: 10 });
  const settings: DeliverySettings = {
    retrySchedule: options.retrySchedule ?? [20, 20, 20, 20, 20],
    retryJitter: options.retryJitter ?? 0,
    deliveryTimeoutMs: options.deliveryTimeoutMs ?? 2_000,
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
  if (options.worker !== false) worker = await startDeliveryWorker(deps, { concurrency: options.concurrency ?? 64 });
  return {
    ...handle,
    url,
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
      await handle.close();
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

/** Inserts a message row and its first job in one transaction, as the runs API does, then wakes. */
export async function queueMessage(h: DeliveryHarness, input: MessageInput): Promise<string> {
  const id = newId('msg');
  await h.db.transaction(async (tx) => {
    await tx.insert(messages).values(messageRow(id, input));
    await enqueueDeliveries(h.boss, [{ messageId: id, step: 1, trigger: 'scheduled' }], tx);
  });
  h.deps.onEnqueued();
  return id;
}

/** Many messages with their jobs in one transaction (benchmarks). */
export async function queueMessages(h: DeliveryHarness, inputs: readonly MessageInput[]): Promise<string[]> {
  const rows = inputs.map((input) => messageRow(newId('msg'), input));
  await h.db.transaction(async (tx) => {
    for (let i = 0; i < rows.length; i += 1000) {
      const chunk = rows.slice(i, i + 1000);
      await tx.insert(messages).values(chunk);
      await enqueueDeliveries(
        h.boss,
        chunk.map((row) => ({ messageId: row.id, step: 1, trigger: 'scheduled' as const })),
        tx,
      );
    }
  });
  h.deps.onEnqueued();
  return rows.map((row) => row.id);
}

function messageRow(id: string, input: MessageInput): typeof messages.$inferInsert {
  return {
    id,
    tenantId: input.tenantId,
    runId: newId('run'),
    workflowId: 'wf_test',
    eventId: newId('evt'),
    eventType: input.eventType ?? 'run.completed',
    url: input.url,
    headers: input.headers ?? {},
    payload: input.payload ?? samplePayload(input.eventType),
    status: 'pending',
    attemptCount: 0,
    nextAttemptAt: new Date(),
  };
}

export async function getMessage(h: DatabaseHandle, id: string) {
  const [row] = await h.db.select().from(messages).where(eq(messages.id, id));
  if (row === undefined) throw new Error(`message ${id} not found`);
  return row;
}

export async function getAttempts(h: DatabaseHandle, messageId: string) {
  return h.db.select().from(attempts).where(eq(attempts.messageId, messageId)).orderBy(asc(attempts.attempt));
}
