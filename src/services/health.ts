import { sql } from 'drizzle-orm';
import type { ServiceDeps } from './deps.ts';

/** Resolves when the database answers a trivial query within `timeoutMs`; rejects otherwise. */
export async function checkDatabase(deps: Pick<ServiceDeps, 'db'>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      deps.db.execute(sql`select 1`),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('database check timed out')), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
