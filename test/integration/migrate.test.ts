import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS_FOLDER, migrateDatabase } from '../../src/db/migrate.ts';
import { createEmptyDatabase } from '../support/database.ts';

describe('migrations', () => {
  it('three concurrent migrate runs all succeed and leave one applied set', async () => {
    const url = await createEmptyDatabase();
    const results = await Promise.allSettled([migrateDatabase(url), migrateDatabase(url), migrateDatabase(url)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    const applied = await sql`select count(*)::int as n from orbit_migrations.__drizzle_migrations`;
    const tables = await sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`;
    await sql.end();
    expect(applied[0]?.n).toBeGreaterThan(0);
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(['tenants', 'api_keys', 'runs', 'events', 'messages', 'attempts', 'signing_secrets']),
    );
  });

  it('is a no-op when nothing is pending', async () => {
    const url = await createEmptyDatabase();
    await migrateDatabase(url);
    await expect(migrateDatabase(url)).resolves.toBeUndefined();
  });
});

describe('upgrading a database with deliveries in it', () => {
  /** The migrations folder as it was at `count` migrations (the first ones), in a temp dir. */
  function migrationsUpTo(count: number): string {
    const dir = mkdtempSync(join(tmpdir(), 'orbit-migrations-'));
    cpSync(MIGRATIONS_FOLDER, dir, { recursive: true });
    const journalFile = join(dir, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: unknown[] };
    journal.entries = journal.entries.slice(0, count);
    writeFileSync(journalFile, JSON.stringify(journal));
    return dir;
  }

  it("moves run messages to the destination model: each run's webhook becomes its endpoint, each message keeps its delivery state and attempts", async () => {
    const url = await createEmptyDatabase();
    const before = migrationsUpTo(3);
    await migrateDatabase(url, before);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await sql`insert into tenants (id, name) values ('ten_old', 'old')`;
      const webhook = {
        url: 'https://receiver.example/hook',
        events: ['run.started', 'run.completed'],
        metadata: null,
        headers: { 'X-Team': 'a' },
      };
      await sql`insert into runs (id, tenant_id, workflow_id, status, webhook)
        values ('run_08QAIw9MnoEyeUVwXmXpDng', 'ten_old', 'wf', 'RUNNING', ${sql.json(webhook)}),
               ('run_08QAIw9MnoEyeUVwXmXpDnh', 'ten_old', 'wf', 'QUEUED', null)`;
      await sql`insert into messages (id, tenant_id, run_id, workflow_id, event_id, event_type, url, headers, payload, status, attempt_count, next_attempt_at)
        values ('msg_old_a', 'ten_old', 'run_08QAIw9MnoEyeUVwXmXpDng', 'wf', 'evt_a', 'run.started', ${webhook.url}, ${sql.json(webhook.headers)}, '{"a":1}', 'failed', 2, null),
               ('msg_old_b', 'ten_old', 'run_08QAIw9MnoEyeUVwXmXpDng', 'wf', 'evt_b', 'run.completed', ${webhook.url}, ${sql.json(webhook.headers)}, '{"b":2}', 'pending', 1, now())`;
      await sql`insert into attempts (id, message_id, tenant_id, attempt, trigger, outcome, started_at, duration_ms, response_status)
        values ('att_1', 'msg_old_a', 'ten_old', 1, 'scheduled', 'failed', now(), 5, 500),
               ('att_2', 'msg_old_a', 'ten_old', 2, 'manual', 'failed', now(), 5, 500),
               ('att_3', 'msg_old_b', 'ten_old', 1, 'scheduled', 'failed', now(), 5, 503)`;

      await migrateDatabase(url);

      const [endpoint] = await sql`select id, kind, run_id, url, headers from endpoints`;
      expect(endpoint).toEqual({
        id: 'ep_08QAIw9MnoEyeUVwXmXpDng',
        kind: 'run',
        run_id: 'run_08QAIw9MnoEyeUVwXmXpDng',
        url: webhook.url,
        headers: webhook.headers,
      });
      const runs = await sql`select id, endpoint_id from runs order by id`;
      expect(runs.map((run) => run.endpoint_id)).toEqual(['ep_08QAIw9MnoEyeUVwXmXpDng', null]);
      const deliveries = await sql`select message_id, endpoint_id, status, attempt_count, steps from deliveries order by message_id`;
      expect(deliveries).toEqual([
        // The manual attempt counts, but is no step of the retry schedule.
        { message_id: 'msg_old_a', endpoint_id: endpoint?.id, status: 'failed', attempt_count: 2, steps: 1 },
        { message_id: 'msg_old_b', endpoint_id: endpoint?.id, status: 'pending', attempt_count: 1, steps: 1 },
      ]);
      const attempts = await sql`select id, endpoint_id, url from attempts order by id`;
      expect(attempts.map((attempt) => [attempt.id, attempt.endpoint_id, attempt.url])).toEqual([
        ['att_1', endpoint?.id, webhook.url],
        ['att_2', endpoint?.id, webhook.url],
        ['att_3', endpoint?.id, webhook.url],
      ]);
      const [payload] = await sql`select payload from messages where id = 'msg_old_b'`;
      expect(payload?.payload).toBe('{"b":2}');
    } finally {
      await sql.end();
      rmSync(before, { recursive: true, force: true });
    }
  });
});
