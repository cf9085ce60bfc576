/** The API called in-process over given deps, plus row factories for messages and attempts written directly in SQL. */
import { eq, sql } from 'drizzle-orm';
import { createApp } from '../../src/api/app.ts';
import type { Queryable } from '../../src/db/client.ts';
import { attempts, deliveries, endpoints, messages } from '../../src/db/schema.ts';
import { onSchedule, type AttemptTrigger } from '../../src/domain/delivery.ts';
import { newId } from '../../src/lib/ids.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import type { Clock } from '../../src/lib/clock.ts';
import type { ServiceDeps } from '../../src/services/deps.ts';
import { apiCaller, type CallResult } from './api.ts';

export type LogCall = (method: string, path: string, options?: { body?: unknown; key?: string | null }) => Promise<CallResult>;

/** The whole API over `deps` (as `orbit api` serves it), called in-process with `adminKey` by default. */
export function logApi(deps: ServiceDeps, adminKey: string): LogCall {
  return apiCaller(createApp({ services: deps, logger: silentLogger, version: '0.0.0-test' }), adminKey);
}

/** A clock the test moves by hand. */
export function manualClock(start: Date): Clock & { set(at: Date): void; advance(ms: number): void } {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    set: (at) => {
      now = at.getTime();
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

export interface MessageSeed {
  id?: string;
  tenantId: string;
  runId?: string;
  workflowId?: string;
  eventType?: string;
  status?: 'pending' | 'succeeded' | 'failed';
  createdAt: Date;
  payload?: string;
}

/** The endpoint seeded messages go to (one per tenant, as a run webhook's would be). */
const seededEndpoints = new Map<string, string>();

async function seededEndpoint(db: Queryable, tenantId: string): Promise<string> {
  const known = seededEndpoints.get(tenantId);
  if (known !== undefined) return known;
  const id = newId('ep');
  await db.insert(endpoints).values({ id, tenantId, kind: 'run', url: 'https://receiver.example/hook' });
  seededEndpoints.set(tenantId, id);
  return id;
}

/** A message with its one delivery in the given status. */
export async function insertMessage(db: Queryable, seed: MessageSeed): Promise<string> {
  const id = seed.id ?? newId('msg', seed.createdAt.getTime());
  await db.insert(messages).values({
    id,
    tenantId: seed.tenantId,
    runId: seed.runId ?? newId('run'),
    workflowId: seed.workflowId ?? 'wf_test',
    eventId: newId('evt'),
    eventType: seed.eventType ?? 'run.completed',
    payload: seed.payload ?? '{"success":true}',
    createdAt: seed.createdAt,
  });
  await db.insert(deliveries).values({
    messageId: id,
    endpointId: await seededEndpoint(db, seed.tenantId),
    tenantId: seed.tenantId,
    status: seed.status ?? 'succeeded',
    createdAt: seed.createdAt,
  });
  return id;
}

export interface AttemptSeed {
  messageId: string;
  tenantId: string;
  attempt: number;
  trigger?: AttemptTrigger;
  responseStatus: number | null;
  startedAt: Date;
  durationMs?: number;
  /** Defaults to succeeded for a 2xx, failed otherwise. */
  outcome?: 'succeeded' | 'failed';
}

export async function insertAttempt(db: Queryable, seed: AttemptSeed): Promise<string> {
  const id = newId('atmpt', seed.startedAt.getTime());
  const status = seed.responseStatus;
  const outcome = seed.outcome ?? (status !== null && status >= 200 && status < 300 ? 'succeeded' : 'failed');
  const errorKind =
    outcome === 'succeeded' ? null : status === null ? 'timeout' : status >= 300 && status < 400 ? 'redirect' : 'http_status';
  await db.insert(attempts).values({
    id,
    messageId: seed.messageId,
    endpointId: await seededEndpoint(db, seed.tenantId),
    tenantId: seed.tenantId,
    url: 'https://receiver.example/hook',
    attempt: seed.attempt,
    trigger: seed.trigger ?? 'scheduled',
    outcome,
    startedAt: seed.startedAt,
    durationMs: seed.durationMs ?? 10,
    responseStatus: status,
    responseBody: status === null ? null : `answer ${status}`,
    errorKind,
    errorMessage: errorKind ? `failed: ${errorKind}` : null,
  });
  // The delivery counts it, as the worker's record would.
  await db
    .update(deliveries)
    .set({
      attemptCount: sql`${deliveries.attemptCount} + 1`,
      steps: sql`${deliveries.steps} + ${onSchedule(seed.trigger ?? 'scheduled') ? 1 : 0}`,
    })
    .where(eq(deliveries.messageId, seed.messageId));
  return id;
}
