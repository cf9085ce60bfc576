import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { migrateDatabase } from '../../src/db/migrate.ts';
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
