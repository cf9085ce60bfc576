/**
 * The settings the embedded PostgreSQL runs with (src/db/embedded-child.ts). The suite's own server
 * is started the way `orbit serve` starts it, so its settings are Orbit's.
 */
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';

const clients: postgres.Sql[] = [];
afterAll(async () => {
  await Promise.all(clients.map((client) => client.end({ timeout: 1 })));
});

describe('the embedded PostgreSQL', () => {
  it('runs autovacuum every 5 s, so a fresh table is analysed within seconds of filling', async () => {
    const sql = postgres(await createTestDatabase(), { max: 1, onnotice: () => {} });
    clients.push(sql);
    const [setting] = await sql<{ naptime: string }[]>`select current_setting('autovacuum_naptime') as naptime`;
    expect(setting?.naptime).toBe('5s');

    await sql`create table filled (id int primary key, body text)`;
    await sql`insert into filled select n, repeat('x', 40) from generate_series(1, 5000) as n`;
    // The default (one minute) would leave it unanalysed for this long.
    await expect
      .poll(
        async () => {
          const [row] = await sql<{ analysed: boolean }[]>`
            select last_autoanalyze is not null as analysed from pg_stat_user_tables where relname = 'filled'`;
          return row?.analysed ?? false;
        },
        { timeout: 25_000, interval: 500 },
      )
      .toBe(true);
  }, 30_000);
});
