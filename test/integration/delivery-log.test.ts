import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventType } from '../../src/domain/run.ts';
import {
  getMessage,
  listAttempts,
  listMessages,
  listRunDeliveries,
  type AttemptFilter,
  type MessageFilter,
  type Page,
} from '../../src/services/delivery-log.ts';
import { createRun } from '../../src/services/runs.ts';
import { createTenant } from '../../src/services/tenants.ts';
import { startTestApi, type CallResult, type TestApi } from '../support/api.ts';
import { insertAttempt, insertMessage, logApi, type LogCall } from '../support/log-app.ts';

let api: TestApi;
let call: LogCall;
let tenantA: string;
let tenantB: { id: string; apiKey: string };

const T0 = new Date('2026-03-01T00:00:00.000Z');
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);

interface Seeded {
  id: string;
  tenantId: string;
  runId: string;
  workflowId: string;
  eventType: EventType;
  status: 'pending' | 'succeeded' | 'failed';
  createdAt: Date;
}
interface SeededAttempt {
  id: string;
  messageId: string;
  outcome: 'succeeded' | 'failed';
  responseStatus: number | null;
  startedAt: Date;
}
const seeded: Seeded[] = [];
const seededAttempts: SeededAttempt[] = [];

// A small deterministic PRNG, so a failure reproduces.
function prng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

beforeAll(async () => {
  api = await startTestApi();
  call = logApi(api.deps, api.adminKey);
  tenantA = api.tenantId;
  const other = await createTenant(api.deps, 'other');
  tenantB = { id: other.id, apiKey: other.apiKey };

  const random = prng(42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const runsOf = [
    { runId: 'run_a1', tenantId: tenantA, workflowId: 'wf_a' },
    { runId: 'run_a2', tenantId: tenantA, workflowId: 'wf_a' },
    { runId: 'run_a3', tenantId: tenantA, workflowId: 'wf_b' },
    { runId: 'run_b1', tenantId: tenantB.id, workflowId: 'wf_b' },
    { runId: 'run_b2', tenantId: tenantB.id, workflowId: 'wf_a' },
  ];
  const types: EventType[] = ['run.started', 'node.completed', 'node.failed', 'run.completed'];
  const statuses = ['pending', 'succeeded', 'succeeded', 'failed'] as const;
  const answers = [200, 204, 500, 503, 404, 302, null, null];
  for (let i = 0; i < 160; i++) {
    const run = pick(runsOf);
    // Pairs of messages share a created_at: the id breaks the tie.
    const row: Omit<Seeded, 'id'> = { ...run, eventType: pick(types), status: pick(statuses), createdAt: minutes(Math.floor(i / 2)) };
    const id = await insertMessage(api.deps.db, row);
    seeded.push({ id, ...row });
    const count = 1 + Math.floor(random() * 3);
    for (let n = 1; n <= count; n++) {
      const responseStatus = pick(answers);
      const startedAt = new Date(row.createdAt.getTime() + n * 1000 + Math.floor(random() * 3) * 20_000);
      // Now and then a 2xx that still failed (the body timed out).
      const outcome = responseStatus === 200 && random() < 0.2 ? 'failed' : undefined;
      const attemptId = await insertAttempt(api.deps.db, {
        messageId: id,
        tenantId: run.tenantId,
        attempt: n,
        responseStatus,
        startedAt,
        ...(outcome ? { outcome } : {}),
      });
      seededAttempts.push({
        id: attemptId,
        messageId: id,
        outcome: outcome ?? (responseStatus !== null && responseStatus < 300 ? 'succeeded' : 'failed'),
        responseStatus,
        startedAt,
      });
    }
  }
});

afterAll(async () => {
  await api?.close();
});

const newestFirst =
  <T extends { id: string }>(time: (row: T) => Date) =>
  (a: T, b: T) =>
    time(b).getTime() - time(a).getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

async function collect<T extends { id: string }>(list: (iterator: string | undefined) => Promise<Page<T>>): Promise<string[]> {
  const ids: string[] = [];
  let iterator: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await list(iterator);
    ids.push(...page.data.map((row) => row.id));
    expect(page.done).toBe(page.iterator === null);
    if (page.done) return ids;
    iterator = page.iterator as string;
  }
  throw new Error('pagination did not end');
}

/** Every subset of the given filters. */
function subsets<T extends object>(filters: T): Partial<T>[] {
  const entries = Object.entries(filters);
  const result: Partial<T>[] = [];
  for (let mask = 0; mask < 1 << entries.length; mask++) {
    result.push(Object.fromEntries(entries.filter((_, i) => mask & (1 << i))) as Partial<T>);
  }
  return result;
}

function expectError(answer: CallResult, status: number, code: string, path?: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body.error.code).toBe(code);
  if (path !== undefined) expect(answer.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
}

describe('listMessages', () => {
  const valueSets: Array<Omit<MessageFilter, 'limit' | 'iterator'>> = [
    {
      status: 'failed',
      tenantId: 'A',
      runId: 'run_a1',
      workflowId: 'wf_a',
      eventType: 'node.completed',
      since: minutes(10),
      until: minutes(60),
    },
    {
      status: 'succeeded',
      tenantId: 'B',
      runId: 'run_b1',
      workflowId: 'wf_b',
      eventType: 'run.started',
      since: minutes(0),
      until: minutes(79),
    },
    {
      status: 'pending',
      tenantId: 'A',
      runId: 'run_a3',
      workflowId: 'wf_b',
      eventType: 'node.failed',
      since: minutes(40),
      until: minutes(41),
    },
  ];

  it('answers every combination of the filters exactly, newest first, across pages', async () => {
    let nonEmpty = 0;
    for (const values of valueSets) {
      const resolved = { ...values, tenantId: values.tenantId === 'A' ? tenantA : tenantB.id };
      for (const filter of subsets(resolved)) {
        const expected = seeded
          .filter(
            (m) =>
              (filter.status === undefined || m.status === filter.status) &&
              (filter.tenantId === undefined || m.tenantId === filter.tenantId) &&
              (filter.runId === undefined || m.runId === filter.runId) &&
              (filter.workflowId === undefined || m.workflowId === filter.workflowId) &&
              (filter.eventType === undefined || m.eventType === filter.eventType) &&
              (filter.since === undefined || m.createdAt >= filter.since) &&
              (filter.until === undefined || m.createdAt < filter.until),
          )
          .sort(newestFirst((m) => m.createdAt))
          .map((m) => m.id);
        const got = await collect((iterator) => listMessages(api.deps, { ...filter, limit: 7, iterator }));
        expect(got, JSON.stringify(filter)).toEqual(expected);
        if (expected.length > 0 && Object.keys(filter).length >= 3) nonEmpty++;
      }
    }
    // The data set makes many multi-filter combinations non-trivial.
    expect(nonEmpty).toBeGreaterThan(60);
  });

  it('keeps pages stable while new messages arrive between them', async () => {
    const tenant = (await createTenant(api.deps, 'paging')).id;
    const base = new Date('2026-04-01T00:00:00.000Z');
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      ids.push(await insertMessage(api.deps.db, { tenantId: tenant, createdAt: new Date(base.getTime() + i * 1000) }));
    const first = await listMessages(api.deps, { tenantId: tenant, limit: 4 });
    expect(first.data.map((m) => m.id)).toEqual(ids.slice(6).reverse());
    // Newer messages arrive between the pages.
    const newer: string[] = [];
    for (let i = 0; i < 5; i++)
      newer.push(await insertMessage(api.deps.db, { tenantId: tenant, createdAt: new Date(base.getTime() + 60_000 + i) }));
    const second = await listMessages(api.deps, { tenantId: tenant, limit: 4, iterator: first.iterator as string });
    expect(second.data.map((m) => m.id)).toEqual(ids.slice(2, 6).reverse());
    const third = await listMessages(api.deps, { tenantId: tenant, limit: 4, iterator: second.iterator as string });
    expect(third.data.map((m) => m.id)).toEqual(ids.slice(0, 2).reverse());
    expect(third).toMatchObject({ done: true, iterator: null });
    // A fresh first page shows the new ones first.
    const fresh = await listMessages(api.deps, { tenantId: tenant, limit: 5 });
    expect(fresh.data.map((m) => m.id)).toEqual(newer.reverse());
  });

  it('pages across rows that differ only in microseconds', async () => {
    const tenant = (await createTenant(api.deps, 'micro')).id;
    const ids = [];
    for (let i = 0; i < 4; i++)
      ids.push(await insertMessage(api.deps.db, { tenantId: tenant, createdAt: new Date('2026-05-01T00:00:00.000Z') }));
    // Rows written by SQL (e.g. a default now()) keep microseconds that a JS Date cannot hold.
    await api.deps.db.execute(sql`update messages set created_at = created_at + (id = ${ids[1]})::int * interval '3 microseconds'
      + (id = ${ids[2]})::int * interval '5 microseconds' where tenant_id = ${tenant}`);
    const got = await collect((iterator) => listMessages(api.deps, { tenantId: tenant, limit: 1, iterator }));
    expect(got).toEqual([ids[2], ids[1], ids[3], ids[0]]);
  });
});

describe('listAttempts', () => {
  const classOf = (status: number | null) => (status === null ? 0 : Math.floor(status / 100));

  it('answers every combination of the filters exactly, newest first, across pages', async () => {
    const message = seededAttempts.find((a) => seededAttempts.filter((b) => b.messageId === a.messageId).length === 3)?.messageId as string;
    const valueSets: Array<Omit<AttemptFilter, 'limit' | 'iterator'>> = [
      { messageId: message, status: 'failed', statusCodeClass: 5, since: minutes(5), until: minutes(70) },
      { messageId: message, status: 'succeeded', statusCodeClass: 2, since: minutes(0), until: minutes(50) },
      { messageId: message, status: 'failed', statusCodeClass: 2, since: minutes(20), until: minutes(80) },
      { messageId: message, status: 'failed', statusCodeClass: 0, since: minutes(30), until: minutes(31) },
      { messageId: message, status: 'succeeded', statusCodeClass: 5 },
      { status: 'failed', statusCodeClass: 3 },
      { statusCodeClass: 1 },
    ];
    let nonEmpty = 0;
    for (const values of valueSets) {
      for (const filter of subsets(values)) {
        const expected = seededAttempts
          .filter(
            (a) =>
              (filter.messageId === undefined || a.messageId === filter.messageId) &&
              (filter.status === undefined || a.outcome === filter.status) &&
              (filter.statusCodeClass === undefined || classOf(a.responseStatus) === filter.statusCodeClass) &&
              (filter.since === undefined || a.startedAt >= filter.since) &&
              (filter.until === undefined || a.startedAt < filter.until),
          )
          .sort(newestFirst((a) => a.startedAt))
          .map((a) => a.id);
        const got = await collect((iterator) => listAttempts(api.deps, { ...filter, limit: 9, iterator }));
        expect(got, JSON.stringify(filter)).toEqual(expected);
        if (expected.length > 0 && Object.keys(filter).length >= 2) nonEmpty++;
      }
    }
    expect(nonEmpty).toBeGreaterThan(30);
  });

  it('answers the attempt object of the contract', async () => {
    const page = await listAttempts(api.deps, { statusCodeClass: 0, limit: 1 });
    expect(page.data[0]).toEqual({
      id: expect.stringMatching(/^atmpt_/),
      messageId: expect.stringMatching(/^msg_/),
      // A run's webhook: no endpoint a user could act on.
      endpointId: null,
      url: 'https://receiver.example/hook',
      attempt: expect.any(Number),
      trigger: 'scheduled',
      outcome: 'failed',
      startedAt: expect.stringMatching(/Z$/),
      durationMs: 10,
      responseStatus: null,
      responseBody: null,
      error: { kind: 'timeout', message: 'failed: timeout' },
      nextAttemptAt: null,
    });
  });
});

describe('getMessage', () => {
  it('answers the message with its payload and attempts, oldest first', async () => {
    const id = await insertMessage(api.deps.db, { tenantId: tenantA, createdAt: minutes(500), payload: '{"exact": "bytes"}' });
    await insertAttempt(api.deps.db, { messageId: id, tenantId: tenantA, attempt: 2, responseStatus: 200, startedAt: minutes(502) });
    await insertAttempt(api.deps.db, { messageId: id, tenantId: tenantA, attempt: 1, responseStatus: 503, startedAt: minutes(501) });
    const message = await getMessage(api.deps, id);
    expect(message).toMatchObject({
      id,
      tenantId: tenantA,
      payload: '{"exact": "bytes"}',
      status: 'succeeded',
      url: 'https://receiver.example/hook',
    });
    expect(message.attempts.map((a) => [a.attempt, a.responseStatus])).toEqual([
      [1, 503],
      [2, 200],
    ]);
    const answer = await call('GET', `/v1/admin/messages/${id}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(JSON.parse(JSON.stringify(message)));
  });

  it('is not found for an unknown id or, tenant-scoped, another tenant’s message', async () => {
    await expect(getMessage(api.deps, 'msg_unknown')).rejects.toMatchObject({ code: 'not_found' });
    await expect(
      getMessage(api.deps, seeded.find((m) => m.tenantId === tenantA)?.id as string, { tenantId: tenantB.id }),
    ).rejects.toMatchObject({
      code: 'not_found',
    });
    expectError(await call('GET', '/v1/admin/messages/msg_unknown'), 404, 'not_found');
    expectError(await call('GET', '/v1/admin/messages/not%20an%20id'), 404, 'not_found');
  });
});

describe('GET /v1/runs/{runId}/deliveries', () => {
  it("answers the run's messages with their attempts to the owning tenant only", async () => {
    const { run } = await createRun(api.deps, tenantB.id, { workflowId: 'wf_deliveries' });
    const first = await insertMessage(api.deps.db, {
      tenantId: tenantB.id,
      runId: run.id,
      createdAt: minutes(900),
      eventType: 'run.started',
    });
    const second = await insertMessage(api.deps.db, { tenantId: tenantB.id, runId: run.id, createdAt: minutes(901), status: 'failed' });
    await insertAttempt(api.deps.db, { messageId: second, tenantId: tenantB.id, attempt: 1, responseStatus: 500, startedAt: minutes(901) });
    await insertAttempt(api.deps.db, {
      messageId: second,
      tenantId: tenantB.id,
      attempt: 2,
      responseStatus: null,
      startedAt: minutes(902),
    });

    const answer = await call('GET', `/v1/runs/${run.id}/deliveries?limit=1`, { key: tenantB.apiKey });
    expect(answer.status).toBe(200);
    expect(answer.body.data.map((m: { id: string }) => m.id)).toEqual([second]);
    expect(answer.body.data[0].attempts.map((a: { attempt: number }) => a.attempt)).toEqual([1, 2]);
    expect(answer.body.data[0]).not.toHaveProperty('payload');
    expect(answer.body.done).toBe(false);
    const next = await call('GET', `/v1/runs/${run.id}/deliveries?limit=1&iterator=${answer.body.iterator}`, { key: tenantB.apiKey });
    expect(next.body).toMatchObject({ data: [{ id: first, attempts: [] }], done: true, iterator: null });

    // The admin's own tenant does not own the run: 404, as for an unknown one.
    expectError(await call('GET', `/v1/runs/${run.id}/deliveries`), 404, 'not_found');
    expectError(await call('GET', '/v1/runs/run_unknown/deliveries', { key: tenantB.apiKey }), 404, 'not_found');
    await expect(listRunDeliveries(api.deps, tenantA, run.id, { limit: 5 })).rejects.toMatchObject({ code: 'not_found' });
    expectError(
      await call('GET', `/v1/runs/${run.id}/deliveries?limit=0`, { key: tenantB.apiKey }),
      422,
      'validation_failed',
      'query.limit',
    );
    expectError(await call('GET', `/v1/runs/${run.id}/deliveries`, { key: null }), 401, 'unauthenticated');
  });
});

describe('GET /v1/admin/messages and /v1/admin/attempts over HTTP', () => {
  it('filters and pages through the API', async () => {
    const query = `status=failed&tenantId=${tenantA}&since=${minutes(10).toISOString()}&until=${minutes(60).toISOString()}&limit=3`;
    const expected = await collect((iterator) =>
      listMessages(api.deps, { status: 'failed', tenantId: tenantA, since: minutes(10), until: minutes(60), limit: 3, iterator }),
    );
    const got: string[] = [];
    let iterator: string | null = null;
    do {
      const answer: CallResult = await call('GET', `/v1/admin/messages?${query}${iterator ? `&iterator=${iterator}` : ''}`);
      expect(answer.status).toBe(200);
      got.push(...answer.body.data.map((m: { id: string }) => m.id));
      iterator = answer.body.iterator;
    } while (iterator !== null);
    expect(got).toEqual(expected);

    const page = await call('GET', `/v1/admin/messages?eventType=node.failed&workflowId=wf_a&limit=250`);
    expect(page.status).toBe(200);
    expect(page.body.data.length).toBe(seeded.filter((m) => m.eventType === 'node.failed' && m.workflowId === 'wf_a').length);
    expect(page.body.data[0]).toEqual({
      id: expect.any(String),
      tenantId: expect.any(String),
      runId: expect.any(String),
      workflowId: 'wf_a',
      appId: null,
      endpointId: null,
      eventType: 'node.failed',
      url: 'https://receiver.example/hook',
      status: expect.stringMatching(/^(pending|succeeded|failed)$/),
      attemptCount: expect.any(Number),
      nextAttemptAt: null,
      failureReason: null,
      waitingReason: null,
      createdAt: expect.stringMatching(/Z$/),
      deliveredAt: null,
    });
    expect((await call('GET', '/v1/admin/messages')).body.data).toHaveLength(50);
  });

  it('takes since as a duration before now', async () => {
    const recent = await insertMessage(api.deps.db, {
      tenantId: tenantA,
      createdAt: new Date(Date.now() - 60_000),
      eventType: 'run.canceled',
    });
    const answer = await call('GET', '/v1/admin/messages?since=1h&eventType=run.canceled');
    expect(answer.body.data.map((m: { id: string }) => m.id)).toEqual([recent]);
  });

  it('accepts each form of statusCodeClass', async () => {
    for (const [text, cls] of [
      ['5xx', 5],
      ['500', 5],
      ['2XX', 2],
      ['none', 0],
      ['0', 0],
    ] as const) {
      const answer = await call('GET', `/v1/admin/attempts?statusCodeClass=${text}&until=${minutes(100).toISOString()}&limit=250`);
      expect(answer.status, text).toBe(200);
      const expected = seededAttempts.filter((a) => classOf(a.responseStatus) === cls).length;
      expect(answer.body.data.length).toBe(Math.min(expected, 250));
    }
    function classOf(status: number | null): number {
      return status === null ? 0 : Math.floor(status / 100);
    }
  });

  it.each([
    ['/v1/admin/messages?status=lost', 'query.status'],
    ['/v1/admin/messages?eventType=run%20exploded', 'query.eventType'],
    ['/v1/admin/messages?since=yesterday', 'query.since'],
    ['/v1/admin/messages?until=2026-13-45T00:00:00Z', 'query.until'],
    ['/v1/admin/messages?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z', 'query.until'],
    ['/v1/admin/messages?limit=0', 'query.limit'],
    ['/v1/admin/messages?limit=251', 'query.limit'],
    ['/v1/admin/messages?limit=ten', 'query.limit'],
    ['/v1/admin/messages?iterator=bm90IGFuIGl0ZXJhdG9y', 'query.iterator'],
    ['/v1/admin/messages?iterator=%00', 'query.iterator'],
    // A forged iterator whose moment is year 0 (which PostgreSQL refuses).
    ['/v1/admin/messages?iterator=' + Buffer.from('0000-01-01T00:00:00.000000Z|msg_abc').toString('base64url'), 'query.iterator'],
    ['/v1/admin/attempts?iterator=' + Buffer.from('0000-01-01T00:00:00.000000Z|atmpt_abc').toString('base64url'), 'query.iterator'],
    ['/v1/admin/messages?tenantId=ten%20x', 'query.tenantId'],
    ['/v1/admin/messages?runId=' + 'r'.repeat(300), 'query.runId'],
    ['/v1/admin/attempts?status=pending', 'query.status'],
    ['/v1/admin/attempts?statusCodeClass=6xx', 'query.statusCodeClass'],
    ['/v1/admin/attempts?statusCodeClass=404', 'query.statusCodeClass'],
    ['/v1/admin/attempts?since=soon', 'query.since'],
    ['/v1/admin/attempts?messageId=msg%3Bdrop', 'query.messageId'],
    // Moments that parse but that PostgreSQL or date arithmetic cannot take: year 0, or millions of days back.
    ['/v1/admin/messages?since=0000-01-01T00:00:00Z', 'query.since'],
    ['/v1/admin/messages?until=0000-06-01T00:00:00Z', 'query.until'],
    ['/v1/admin/messages?since=9999999999d', 'query.since'],
    ['/v1/admin/messages?since=1000000d', 'query.since'],
    ['/v1/admin/attempts?since=3000000d', 'query.since'],
    ['/v1/admin/attempts?until=0000-01-01T00:00:00Z', 'query.until'],
    ['/v1/admin/stats?since=100000000000000000000d', 'query.since'],
    ['/v1/admin/stats?since=0000-01-01T00:00:00Z', 'query.since'],
  ])('answers 422 for %s', async (path, detail) => {
    expectError(await call('GET', path), 422, 'validation_failed', detail);
  });

  it('refuses tenant keys (403) and missing keys (401)', async () => {
    expectError(await call('GET', '/v1/admin/messages', { key: tenantB.apiKey }), 403, 'forbidden');
    expectError(await call('GET', '/v1/admin/attempts', { key: null }), 401, 'unauthenticated');
  });
});
