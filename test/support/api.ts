import { createApp } from '../../src/api/app.ts';
import { openDatabase } from '../../src/db/client.ts';
import { parseCidrList } from '../../src/domain/network.ts';
import type { Clock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { createBoss, startBoss } from '../../src/queue/boss.ts';
import { bootstrap } from '../../src/services/bootstrap.ts';
import { createServiceDeps, type ServiceDeps } from '../../src/services/deps.ts';
import { createTestDatabase } from './database.ts';

export interface CallOptions {
  body?: unknown;
  /** Sent as is: bytes for a body that is not even UTF-8. */
  rawBody?: string | Uint8Array;
  key?: string | null;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  // Answers are arbitrary JSON that each test asserts on field by field.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Headers;
}

export interface TestApi {
  url: string;
  deps: ServiceDeps;
  adminKey: string;
  tenantId: string;
  /** Calls the API in-process with a real Request; `key` defaults to the admin key, null sends none. */
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  close(): Promise<void>;
}

export interface TestApiOptions {
  clock?: Clock;
  allowHttp?: boolean;
  allowPrivateNetworks?: string;
  retrySchedule?: number[];
  onEnqueued?: () => void;
}

/** Calls an app in-process with real Requests; `key` defaults to `adminKey`, null sends none. */
export function apiCaller(
  app: { request: (path: string, init: RequestInit) => Response | Promise<Response> },
  adminKey: string,
): TestApi['call'] {
  return async (method, path, callOptions = {}) => {
    const headers: Record<string, string> = { ...callOptions.headers };
    const key = callOptions.key === undefined ? adminKey : callOptions.key;
    if (key !== null) headers['authorization'] = `Bearer ${key}`;
    let body: string | Uint8Array | undefined = callOptions.rawBody;
    if (callOptions.body !== undefined) {
      body = JSON.stringify(callOptions.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };
}

/** A real Orbit API (real database, real pg-boss) called in-process through `app.request`. */
export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const url = await createTestDatabase();
  const database = openDatabase(url, { poolSize: 5 });
  const boss = createBoss({ connectionString: url, poolSize: 3, logger: silentLogger });
  await startBoss(boss, { deliveryTimeoutMs: 5_000 });
  const deps = createServiceDeps(
    { db: database.db, sql: database.sql, boss },
    {
      logger: silentLogger,
      encryptionKey: undefined,
      delivery: { retrySchedule: options.retrySchedule ?? [5_000, 300_000], retryJitter: 0, deliveryTimeoutMs: 5_000 },
      webhookRules: {
        allowHttp: options.allowHttp ?? false,
        allowPrivateNetworks: parseCidrList(options.allowPrivateNetworks ?? '') ?? [],
      },
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.onEnqueued ? { onEnqueued: options.onEnqueued } : {}),
    },
  );
  const adminKey = `gx_test_${Math.random().toString(36).slice(2)}_admin_key_0123`;
  const { tenantId } = await bootstrap(deps, { adminKey });
  return {
    url,
    deps,
    adminKey,
    tenantId,
    call: apiCaller(createApp({ services: deps, logger: silentLogger, version: '0.0.0-test' }), adminKey),
    async close() {
      await boss.stop({ graceful: false, timeout: 2_000 });
      await database.close();
    },
  };
}
