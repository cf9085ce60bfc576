/**
 * Ordered delivery as a chain serialised on the endpoint row (docs/architecture.md, "Ordered
 * delivery"). An ordered endpoint has at most one pending delivery with a job, its head
 * (`endpoints.head_message_id`); every other pending delivery waits without a job and without a
 * next attempt (`deliveries_waiting_idx`). Every transaction that adds a pending delivery to an
 * ordered endpoint, or ends (or re-opens) one, locks the endpoint row first and then reads and
 * moves the head with statements that start after the lock: so a head ending and a message
 * arriving never race, and a crash loses nothing (it is all one transaction each). Unordered
 * endpoints take none of these locks.
 */
import { queryIn, type EnqueueTransaction, type PlannedDelivery } from '../queue/delivery-queue.ts';

type Tx = EnqueueTransaction;

/** Locks endpoint rows in id order (two transactions locking the same rows never deadlock). */
export async function lockEndpoints(tx: Tx, endpointIds: readonly string[]): Promise<{ id: string; head: string | null }[]> {
  if (endpointIds.length === 0) return [];
  return queryIn<{ id: string; head: string | null }>(
    tx,
    `select id, head_message_id as head from endpoints where id = any($1::text[]) order by id for update`,
    [[...new Set(endpointIds)].sort()],
  );
}

/**
 * The locked endpoints whose head is still a pending delivery (a live head). Run after
 * `lockEndpoints`, as a statement of its own: it must see what committed while the lock was awaited.
 */
export async function liveHeads(tx: Tx, locked: readonly { id: string; head: string | null }[]): Promise<Set<string>> {
  const withHead = locked.filter((row) => row.head !== null);
  if (withHead.length === 0) return new Set();
  const rows = await queryIn<{ endpoint_id: string }>(
    tx,
    `select d.endpoint_id from unnest($1::text[], $2::text[]) as x(endpoint_id, message_id)
     join deliveries d on d.message_id = x.message_id and d.endpoint_id = x.endpoint_id and d.status = 'pending'`,
    [withHead.map((row) => row.id), withHead.map((row) => row.head as string)],
  );
  return new Set(rows.map((row) => row.endpoint_id));
}

/** Records new heads chosen by the ingest (the endpoints are locked). */
export async function setHeads(tx: Tx, heads: ReadonlyMap<string, string>): Promise<void> {
  if (heads.size === 0) return;
  await queryIn(
    tx,
    `update endpoints e set head_message_id = x.head from unnest($1::text[], $2::text[]) as x(id, head) where e.id = x.id`,
    [[...heads.keys()], [...heads.values()]],
  );
}

/**
 * Moves the head of each (locked) endpoint whose head is no longer pending to its earliest waiting
 * delivery, by (created_at, message_id), and returns the jobs to enqueue for the new heads in the
 * same transaction. An endpoint with nothing waiting gets no head. A promoted delivery that already
 * made steps (a recovered one) continues its schedule with a `recover` step, as recover does.
 */
export async function advanceHeads(tx: Tx, endpointIds: readonly string[], now: Date): Promise<PlannedDelivery[]> {
  if (endpointIds.length === 0) return [];
  const rows = await queryIn<{ message_id: string; endpoint_id: string; steps: number; url: string }>(tx, ADVANCE, [
    [...new Set(endpointIds)],
    now.toISOString(),
  ]);
  return rows.map((row) => ({
    messageId: row.message_id,
    endpointId: row.endpoint_id,
    step: row.steps + 1,
    trigger: row.steps > 0 ? 'recover' : 'scheduled',
    url: row.url,
  }));
}

const ADVANCE = `
  with e as (
    select en.id, en.head_message_id, en.url from endpoints en where en.id = any($1::text[]) and en.ordered
  ),
  stale as (
    select e.id, e.url from e
    where e.head_message_id is null
      or not exists (select 1 from deliveries d
        where d.message_id = e.head_message_id and d.endpoint_id = e.id and d.status = 'pending')
  ),
  next as (
    select w.message_id, s.id as endpoint_id, w.steps, s.url from stale s
    cross join lateral (
      select d.message_id, d.steps from deliveries d
      where d.endpoint_id = s.id and d.status = 'pending' and d.next_attempt_at is null
      order by d.created_at, d.message_id limit 1
    ) w
  ),
  promoted as (
    update deliveries d set next_attempt_at = $2::timestamptz
    from next n where d.message_id = n.message_id and d.endpoint_id = n.endpoint_id
    returning d.message_id
  ),
  moved as (
    update endpoints en set head_message_id = n.message_id
    from stale s left join next n on n.endpoint_id = s.id
    where en.id = s.id and en.head_message_id is distinct from n.message_id
    returning en.id
  )
  -- Data-modifying CTEs run whether or not they are read.
  select n.message_id, n.endpoint_id, n.steps, n.url from next n`;

/**
 * Ends the chain of an endpoint that is no longer ordered: every waiting delivery gets its job now,
 * in creation order (the endpoint row is locked, or being updated, by this transaction).
 */
export async function releaseWaiting(tx: Tx, endpointId: string, now: Date): Promise<PlannedDelivery[]> {
  const rows = await queryIn<{ message_id: string; steps: number; url: string }>(
    tx,
    `with released as (
       update deliveries d set next_attempt_at = $2::timestamptz
       where d.endpoint_id = $1 and d.status = 'pending' and d.next_attempt_at is null
       returning d.message_id, d.steps, d.created_at
     ), cleared as (
       update endpoints set head_message_id = null where id = $1 returning url
     )
     select r.message_id, r.steps, c.url from released r cross join cleared c order by r.created_at, r.message_id`,
    [endpointId, now.toISOString()],
  );
  return rows.map((row) => ({
    messageId: row.message_id,
    endpointId,
    step: row.steps + 1,
    trigger: row.steps > 0 ? 'recover' : 'scheduled',
    url: row.url,
  }));
}
