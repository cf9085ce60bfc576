/**
 * Auto-disable (ORBIT_ENDPOINT_DISABLE_AFTER): an application's endpoint whose deliveries have all
 * failed for that long — since its first failure after its last success (`failing_since`) — is
 * disabled; any success resets the clock. The state is on the endpoint row, so every worker sees the
 * same clock. It runs in the transaction that records the attempts, and touches the row only when
 * its state changes: a success while the clock runs, a failure while it does not, a crossing.
 */
import type postgres from 'postgres';

export const DEFAULT_DISABLE_AFTER_MS = 5 * 86_400_000;

export interface HealthChanges {
  /** Endpoints that had a success and whose clock ran when their deliveries were loaded. */
  succeeded: readonly string[];
  /** Endpoints that had failures and no success. */
  failed: readonly string[];
  /** Of those, the ones whose clock (as loaded) had run past the limit: candidates to disable. */
  crossing: readonly string[];
}

/** What one recorded attempt tells about its endpoint's health. */
export interface HealthSignal {
  endpointId: string;
  succeeded: boolean;
  /** The endpoint's `failing_since` when the delivery was loaded (epoch ms), or null. */
  failingSinceMs: number | null;
}

/**
 * The changes a batch of attempts (at application endpoints) makes. A success and a failure of one
 * endpoint in one batch: it is not dead, so the success wins and the failure starts no clock.
 */
export function healthChanges(signals: readonly HealthSignal[], now: Date, disableAfterMs: number): HealthChanges {
  const healthy = new Set(signals.filter((signal) => signal.succeeded).map((signal) => signal.endpointId));
  const succeeded = new Set<string>();
  const failed = new Set<string>();
  const crossing = new Set<string>();
  for (const signal of signals) {
    if (signal.succeeded) {
      if (signal.failingSinceMs !== null) succeeded.add(signal.endpointId);
    } else if (!healthy.has(signal.endpointId)) {
      failed.add(signal.endpointId);
      if (signal.failingSinceMs !== null && now.getTime() - signal.failingSinceMs >= disableAfterMs) crossing.add(signal.endpointId);
    }
  }
  return { succeeded: [...succeeded], failed: [...failed], crossing: [...crossing] };
}

export interface DisabledEndpoint {
  id: string;
  tenantId: string;
  failingSince: Date;
}

export function disabledReason(disableAfterMs: number): string {
  return `the endpoint was disabled after failing for ${describe(disableAfterMs)}`;
}

function describe(ms: number): string {
  for (const [unit, size] of [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}${ms / size === 1 ? '' : 's'}`;
  }
  return `${ms} ms`;
}

/** Applies the changes; returns the endpoints it disabled (their rows are locked by this transaction). */
export async function applyHealthChanges(
  tx: postgres.TransactionSql,
  changes: HealthChanges,
  now: Date,
  disableAfterMs: number,
): Promise<DisabledEndpoint[]> {
  const at = now.toISOString();
  if (changes.succeeded.length > 0) {
    await tx.unsafe(
      `update endpoints set failing_since = null where id = any($1::text[]) and failing_since is not null`,
      [[...changes.succeeded]],
      { prepare: true },
    );
  }
  const failed = changes.failed;
  if (failed.length > 0) {
    await tx.unsafe(
      `update endpoints set failing_since = $2::timestamptz where id = any($1::text[]) and kind = 'app' and failing_since is null`,
      [[...failed], at],
      { prepare: true },
    );
  }
  const crossing = changes.crossing;
  if (crossing.length === 0) return [];
  const rows = await tx.unsafe<{ id: string; tenant_id: string; failing_since_ms: number }[]>(
    `update endpoints set disabled = true, disabled_reason = $4, updated_at = $2::timestamptz
     where id = any($1::text[]) and kind = 'app' and not disabled and deleted_at is null
       and failing_since <= $2::timestamptz - make_interval(secs => $3::float8 / 1000)
     returning id, tenant_id, extract(epoch from failing_since)::float8 * 1000 as failing_since_ms`,
    [[...crossing], at, disableAfterMs, disabledReason(disableAfterMs)],
    { prepare: true },
  );
  if (rows.length === 0) return [];
  // Its pending deliveries end failed with the reason (no attempt is made at a disabled endpoint).
  await tx.unsafe(
    `update deliveries set status = 'failed', next_attempt_at = null, failure_reason = $2
     where endpoint_id = any($1::text[]) and status = 'pending'`,
    [rows.map((row) => row.id), disabledReason(disableAfterMs)],
    { prepare: true },
  );
  return rows.map((row) => ({ id: row.id, tenantId: row.tenant_id, failingSince: new Date(row.failing_since_ms) }));
}
