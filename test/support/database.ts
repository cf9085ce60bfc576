import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { inject } from 'vitest';

export const TEMPLATE_DATABASE = 'orbit_template';

export function serverUrl(): string {
  return inject('pgUrl');
}

export function databaseUrl(name: string): string {
  return serverUrl().replace(/\/postgres$/, `/${name}`);
}

/** A fresh, migrated database of its own (a copy of the migrated template). Returns its URL. */
export async function createTestDatabase(): Promise<string> {
  const name = `orbit_t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  try {
    // Template copies fail while another session uses the template: retry briefly.
    for (let tries = 0; ; tries++) {
      try {
        await admin.unsafe(`create database ${name} template ${TEMPLATE_DATABASE}`);
        break;
      } catch (error) {
        if (tries > 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    await admin.end();
  }
  return databaseUrl(name);
}

/** An empty database (no migrations), for tests of the migrator itself. */
export async function createEmptyDatabase(): Promise<string> {
  const name = `orbit_e_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  return databaseUrl(name);
}
