import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordEvent } from '../../src/services/runs.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api?.close());

const WEBHOOK = { url: 'https://receiver.example.com/hook' };

async function newRunningRun(): Promise<string> {
  const created = await api.call('POST', '/v1/runs', { body: { workflowId: 'wf_group', webhook: WEBHOOK } });
  const id = created.body.id as string;
  expect((await api.call('POST', `/v1/runs/${id}/events`, { body: { type: 'run.started' } })).status).toBe(202);
  return id;
}

async function count(table: 'events' | 'messages', runId: string): Promise<number> {
  const rows = await api.deps.db.execute(sql`select count(*)::int as n from ${sql.identifier(table)} where run_id = ${runId}`);
  return (rows[0] as { n: number }).n;
}

describe('group commit of concurrent event reports', () => {
  it('200 concurrent node events on one run are all applied, each once', async () => {
    const id = await newRunningRun();
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        api.call('POST', `/v1/runs/${id}/events`, { body: { type: 'node.completed', data: { nodeId: `n${i}` } } }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(200).fill(202));
    // Each answer shows the run right after its own event: counters 1..200, each once.
    expect(answers.map((a) => a.body.run.completedNodes as number).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    expect(new Set(answers.map((a) => a.body.messageId)).size).toBe(200);
    const run = await api.call('GET', `/v1/runs/${id}`);
    expect(run.body.completedNodes).toBe(200);
    expect(run.body.deliveries.pending).toBe(201);
    expect(await count('events', id)).toBe(201);
    expect(await count('messages', id)).toBe(201);
  });

  it('refuses only the events the state machine refuses when they share a transaction', async () => {
    const id = await newRunningRun();
    // Both completions race: exactly one wins, the other finds the run finished.
    const answers = await Promise.all([
      api.call('POST', `/v1/runs/${id}/events`, { body: { type: 'run.completed' } }),
      api.call('POST', `/v1/runs/${id}/events`, { body: { type: 'run.completed' } }),
      api.call('POST', `/v1/runs/${id}/events`, { body: { type: 'node.completed', data: { nodeId: 'late' } } }),
    ]);
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 202).length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(statuses.length - statuses.filter((s) => s === 202).length);
    expect(answers.filter((a) => a.body.type === 'run.completed')).toHaveLength(1);
    for (const refused of answers.filter((a) => a.status === 409)) expect(refused.body.error.code).toBe('run_finished');
    const accepted = answers.filter((a) => a.status === 202).length;
    expect(await count('events', id)).toBe(1 + accepted);
  });

  it('an unknown run in a shared batch is a 404 for that report alone', async () => {
    const id = await newRunningRun();
    const [good, missing] = await Promise.all([
      api.call('POST', `/v1/runs/${id}/events`, { body: { type: 'node.completed', data: { nodeId: 'a' } } }),
      api.call('POST', '/v1/runs/run_doesnotexist000000000/events', { body: { type: 'node.completed', data: { nodeId: 'a' } } }),
    ]);
    expect(good?.status).toBe(202);
    expect(missing?.status).toBe(404);
    expect(missing?.body.error.code).toBe('not_found');
  });

  it('a report the database refuses fails alone, not the reports sharing its transaction', async () => {
    const id = await newRunningRun();
    // Past the API's validation (which refuses NUL), PostgreSQL's jsonb refuses it: a data error.
    // Twelve at once: the first few commit alone, the rest share batches with the bad one.
    const reports = Array.from({ length: 12 }, (_, i) =>
      recordEvent(api.deps, api.tenantId, id, { type: 'node.completed', data: { nodeId: `n${i}`, note: i === 11 ? 'bad\u0000' : 'ok' } }),
    );
    const settled = await Promise.allSettled(reports);
    expect(settled.slice(0, 11).map((r) => r.status)).toEqual(Array(11).fill('fulfilled'));
    expect(settled[11]?.status).toBe('rejected');
    const run = await api.call('GET', `/v1/runs/${id}`);
    expect(run.body.completedNodes).toBe(11);
    expect(await count('events', id)).toBe(12);
  });
});
