/**
 * The delivery worker's pg-boss calls on Orbit's own pool (queue/delivery-queue.ts, bossConnection):
 * jobs come back as pg-boss's own pool hands them out, and the statements are prepared, so each
 * connection plans them once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { createBoss, startBoss } from '../../src/queue/boss.ts';
import { bossConnection, DELIVERY_QUEUES, enqueueDeliveries, parseDeliveryJob } from '../../src/queue/delivery-queue.ts';
import { createTestDatabase } from '../support/database.ts';

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

const queue = DELIVERY_QUEUES.first;

/** A fresh database with two jobs enqueued (for two origins), fetched through `bossConnection`. */
async function twoFetchedJobs() {
  const url = await createTestDatabase();
  // One connection, so the prepared statements seen are the ones the calls used.
  const handle = openDatabase(url, { poolSize: 1, genericPlans: true });
  const boss = createBoss({ connectionString: url, logger: silentLogger, poolSize: 2 });
  await startBoss(boss, { deliveryTimeoutMs: 2_000 });
  closers.push(
    () => handle.close(),
    () => boss.stop({ graceful: false, timeout: 1_000 }),
  );
  const connection = bossConnection(handle.sql);
  await enqueueDeliveries(boss, [
    { messageId: 'msg_a', endpointId: 'ep_a', step: 1, trigger: 'scheduled', url: 'https://a.example:8443/hook' },
    { messageId: 'msg_b', endpointId: 'ep_b', step: 1, trigger: 'scheduled', url: 'https://b.example/hook' },
  ]);
  const fetched = await boss.fetch<unknown>(queue, { batchSize: 10, groupConcurrency: 4, ...connection });
  return { handle, boss, connection, fetched };
}

describe('bossConnection (pg-boss calls through postgres.js, prepared)', () => {
  it('fetches, touches and completes jobs as pg-boss does, each statement prepared once', async () => {
    const { handle, boss, connection, fetched } = await twoFetchedJobs();
    expect(fetched.map((job) => parseDeliveryJob(job.data)?.messageId).sort()).toEqual(['msg_a', 'msg_b']);
    const a = fetched.find((job) => parseDeliveryJob(job.data)?.messageId === 'msg_a');
    expect(parseDeliveryJob(a?.data)).toEqual({ messageId: 'msg_a', endpointId: 'ep_a', step: 1, trigger: 'scheduled' });
    expect(a?.groupId).toBe('https://a.example:8443');
    expect(a?.retryCount).toBe(0);
    expect(typeof a?.expireInSeconds).toBe('number');
    expect(a?.expireInSeconds).toBeGreaterThan(0);
    // An origin left out (another worker's share is taken) is not fetched: the second statement shape.
    await enqueueDeliveries(boss, [
      { messageId: 'msg_c', endpointId: 'ep_c', step: 1, trigger: 'scheduled', url: 'https://a.example:8443/hook' },
    ]);
    expect(
      await boss.fetch(queue, { batchSize: 10, groupConcurrency: 4, ignoreGroups: ['https://a.example:8443'], ...connection }),
    ).toEqual([]);

    const attempts = fetched.map((job) => ({ id: job.id, retryCount: job.retryCount }));
    const touched = (await boss.touch(queue, attempts, connection)) as { settled?: string[] };
    expect([...(touched.settled ?? [])].sort()).toEqual(attempts.map((job) => job.id).sort());
    const completed = (await boss.complete(queue, attempts, null, connection)) as { affected?: number };
    expect(completed.affected).toBe(2);
    for (const job of fetched) expect((await boss.getJobById(queue, job.id))?.state).toBe('completed');
    // Settled once: a second complete of the same attempts changes nothing.
    expect(((await boss.complete(queue, attempts, null, connection)) as { affected?: number }).affected).toBe(0);

    const prepared = await handle.sql<{ statement: string; generic: number; custom: number }[]>`
      select statement, generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements`;
    const fetches = prepared.filter((row) => row.statement.includes('active_group_count_map'));
    expect(fetches).toHaveLength(2);
    expect(fetches.every((row) => row.generic === 1 && row.custom === 0)).toBe(true);
    const completes = prepared.filter((row) => /SET completed_on/.test(row.statement));
    expect(completes).toHaveLength(1);
    expect(completes[0]?.generic).toBe(2);
  });

  it('deletes done jobs as the worker settles them, fenced to the fetched attempt, the statement prepared once', async () => {
    const { handle, boss, connection, fetched } = await twoFetchedJobs();
    expect(fetched).toHaveLength(2);
    const attempts = fetched.map((job) => ({ id: job.id, retryCount: job.retryCount }));

    // An attempt that is not the one fetched (its claim was lost and fetched again) deletes nothing.
    const stale = attempts.map((attempt) => ({ ...attempt, retryCount: attempt.retryCount + 1 }));
    expect(((await boss.deleteJob(queue, stale, connection)) as { affected?: number }).affected).toBe(0);
    for (const job of fetched) expect((await boss.getJobById(queue, job.id))?.state).toBe('active');

    expect(((await boss.deleteJob(queue, attempts, connection)) as { affected?: number }).affected).toBe(2);
    for (const job of fetched) expect(await boss.getJobById(queue, job.id)).toBeNull();
    expect(((await boss.deleteJob(queue, attempts, connection)) as { affected?: number }).affected).toBe(0);

    const prepared = await handle.sql<{ statement: string; generic: number; custom: number }[]>`
      select statement, generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements`;
    const deletes = prepared.filter((row) => /DELETE FROM pgboss\./.test(row.statement));
    expect(deletes.map(({ generic, custom }) => ({ generic, custom }))).toEqual([{ generic: 3, custom: 0 }]);
  });
});
