import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { connectionOptions } from './client.ts';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../migrations', import.meta.url));

// Any constant works, as long as every Orbit process uses the same one.
const MIGRATION_LOCK = 0x0_7b17_0001;

/**
 * Applies pending migrations under a session advisory lock, so concurrent starts (several API and
 * worker processes, `orbit migrate` jobs) wait for each other instead of colliding.
 */
export async function migrateDatabase(url: string, migrationsFolder: string = MIGRATIONS_FOLDER): Promise<void> {
  // One connection: the lock, drizzle's transaction and the unlock must share a session.
  const target = connectionOptions(url);
  const sql = postgres(target.url, {
    ...(target.host !== undefined ? { host: target.host } : {}),
    max: 1,
    onnotice: () => {},
    connect_timeout: 10,
  });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`;
    try {
      await migrate(drizzle(sql), { migrationsFolder, migrationsSchema: 'orbit_migrations' });
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}
