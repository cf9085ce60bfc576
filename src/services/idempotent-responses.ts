/**
 * Idempotency keys of the Svix-compatible API (the SDKs send one on every POST): the first
 * successful answer to a key is kept for 24 hours and a repeat of the same request gets it back.
 * A request claims its key before it runs (a row with no status), so two concurrent requests with
 * one key never both run.
 */
import { and, eq, lt, sql } from 'drizzle-orm';
import { idempotentResponses } from '../db/schema.ts';
import type { ServiceDeps } from './deps.ts';

/** How long a first answer is replayed. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/** A claim older than this whose request never finished (its process died) is taken over. */
const STALE_CLAIM_MS = 60_000;

export type Claim = { kind: 'claimed' } | { kind: 'replay'; status: number; body: string } | { kind: 'mismatch' } | { kind: 'running' };

const ofKey = (tenantId: string, key: string) => and(eq(idempotentResponses.tenantId, tenantId), eq(idempotentResponses.key, key));

/** Claims `key` for a request with this hash, or says what became of the request that claimed it first. */
export async function claimIdempotencyKey(
  deps: Pick<ServiceDeps, 'db' | 'clock' | 'random'>,
  tenantId: string,
  key: string,
  requestHash: string,
): Promise<Claim> {
  const now = deps.clock.now();
  for (let tries = 0; tries < 3; tries++) {
    const inserted = await deps.db
      .insert(idempotentResponses)
      .values({ tenantId, key, requestHash, status: null, body: null, createdAt: now })
      .onConflictDoNothing()
      .returning({ key: idempotentResponses.key });
    if (inserted.length > 0) {
      // Now and then, forget expired answers (indexed by creation time).
      if (deps.random() < 0.01) await forgetExpired(deps);
      return { kind: 'claimed' };
    }
    const [row] = await deps.db.select().from(idempotentResponses).where(ofKey(tenantId, key));
    if (!row) continue; // released meanwhile: try again
    const age = now.getTime() - row.createdAt.getTime();
    const expired = age > IDEMPOTENCY_TTL_MS;
    const abandoned = row.status === null && age > STALE_CLAIM_MS;
    if (expired || abandoned) {
      await deps.db.delete(idempotentResponses).where(and(ofKey(tenantId, key), eq(idempotentResponses.createdAt, row.createdAt)));
      continue;
    }
    if (row.requestHash !== requestHash) return { kind: 'mismatch' };
    if (row.status === null || row.body === null) return { kind: 'running' };
    return { kind: 'replay', status: row.status, body: row.body };
  }
  return { kind: 'running' };
}

/** Keeps the answer of the request that claimed `key`. */
export async function storeIdempotentResponse(
  deps: Pick<ServiceDeps, 'db'>,
  tenantId: string,
  key: string,
  answer: { status: number; body: string },
): Promise<void> {
  await deps.db.update(idempotentResponses).set({ status: answer.status, body: answer.body }).where(ofKey(tenantId, key));
}

/** Frees `key` after a request that failed, so a retry runs afresh. */
export async function releaseIdempotencyKey(deps: Pick<ServiceDeps, 'db'>, tenantId: string, key: string): Promise<void> {
  await deps.db.delete(idempotentResponses).where(and(ofKey(tenantId, key), sql`${idempotentResponses.status} is null`));
}

async function forgetExpired(deps: Pick<ServiceDeps, 'db' | 'clock'>): Promise<void> {
  const before = new Date(deps.clock.now().getTime() - IDEMPOTENCY_TTL_MS);
  await deps.db.delete(idempotentResponses).where(lt(idempotentResponses.createdAt, before));
}
