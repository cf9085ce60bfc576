/**
 * The delivery-log routes mounted the way createApp mounts route files (auth, admin scope, error
 * mapping), plus row factories for messages and attempts written directly in SQL.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { requireAdmin, requireApiKey, type ApiEnv } from '../../src/api/auth.ts';
import { handleError } from '../../src/api/errors.ts';
import { adminLogRoutes } from '../../src/api/routes/admin-log.ts';
import { deliveryRoutes } from '../../src/api/routes/deliveries.ts';
import type { Queryable } from '../../src/db/client.ts';
import { attempts, messages } from '../../src/db/schema.ts';
import { newId } from '../../src/lib/ids.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import type { Clock } from '../../src/lib/clock.ts';
import type { ServiceDeps } from '../../src/services/deps.ts';
import { authenticate } from '../../src/services/tenants.ts';
import type { CallResult } from './api.ts';

export type LogCall = (method: string, path: string, options?: { body?: unknown; key?: string | null }) => Promise<CallResult>;

export function logApi(deps: ServiceDeps, adminKey: string): LogCall {
  const app = new OpenAPIHono<ApiEnv>();
  app.use('*', async (c, next) => {
    c.set('requestId', 'req_test');
    await next();
  });
  const v1 = new OpenAPIHono<ApiEnv>();
  v1.use('*', requireApiKey((apiKey) => authenticate(deps, apiKey)));
  v1.use('/admin/*', requireAdmin);
  v1.route('/', adminLogRoutes(deps));
  v1.route('/', deliveryRoutes(deps));
  app.route('/v1', v1);
  app.onError((error, c) => handleError(error, c, silentLogger));
  return async (method, path, options = {}) => {
    const headers: Record<string, string> = {};
    const key = options.key === undefined ? adminKey : options.key;
    if (key !== null) headers['authorization'] = `Bearer ${key}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const response = await app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await response.text();
    return { status: response.status, body: text === '' ? null : JSON.parse(text), headers: response.headers };
  };
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

export async function insertMessage(db: Queryable, seed: MessageSeed): Promise<string> {
  const id = seed.id ?? newId('msg', seed.createdAt.getTime());
  await db.insert(messages).values({
    id,
    tenantId: seed.tenantId,
    runId: seed.runId ?? newId('run'),
    workflowId: seed.workflowId ?? 'wf_test',
    eventId: newId('evt'),
    eventType: seed.eventType ?? 'run.completed',
    url: 'https://receiver.example/hook',
    headers: {},
    payload: seed.payload ?? '{"success":true}',
    status: seed.status ?? 'succeeded',
    attemptCount: 0,
    createdAt: seed.createdAt,
  });
  return id;
}

export interface AttemptSeed {
  messageId: string;
  tenantId: string;
  attempt: number;
  trigger?: 'scheduled' | 'manual';
  responseStatus: number | null;
  startedAt: Date;
  durationMs?: number;
  /** Defaults to succeeded for a 2xx, failed otherwise. */
  outcome?: 'succeeded' | 'failed';
}

export async function insertAttempt(db: Queryable, seed: AttemptSeed): Promise<string> {
  const id = newId('att', seed.startedAt.getTime());
  const status = seed.responseStatus;
  const outcome = seed.outcome ?? (status !== null && status >= 200 && status < 300 ? 'succeeded' : 'failed');
  const errorKind = outcome === 'succeeded' ? null : status === null ? 'timeout' : status >= 300 && status < 400 ? 'redirect' : 'http_status';
  await db.insert(attempts).values({
    id,
    messageId: seed.messageId,
    tenantId: seed.tenantId,
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
  return id;
}
