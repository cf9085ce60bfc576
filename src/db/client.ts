import postgres from 'postgres';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { schema } from './schema.ts';

export type Database = PostgresJsDatabase<typeof schema>;
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
/** Queries that work the same inside or outside a transaction. */
export type Queryable = Database | Transaction;
export type Sql = postgres.Sql;

type Callback = (client: postgres.Sql) => unknown;

/**
 * drizzle asks postgres.js not to prepare its queries, which costs every parameterised query a
 * second round trip (Parse/Describe, wait, then Bind/Execute). This view of the client prepares
 * them (named statements cached per connection: one round trip each), inside transactions too.
 */
function preparing<T extends postgres.Sql>(client: T): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'unsafe') {
        return (query: string, args?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
          target.unsafe(query, args, { ...options, prepare: true });
      }
      if (property === 'begin' || property === 'savepoint') {
        return (...args: unknown[]) => {
          const callback = args.at(-1) as Callback;
          const rest = args.slice(0, -1);
          const begin = Reflect.get(target, property, receiver) as (...a: unknown[]) => unknown;
          return begin.call(target, ...rest, (tx: postgres.Sql) => callback(preparing(tx)));
        };
      }
      return Reflect.get(target, property, receiver);
    },
  });
}

export interface DatabaseHandle {
  db: Database;
  sql: Sql;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  poolSize: number;
  applicationName?: string;
  /**
   * Every prepared statement on these connections keeps one generic plan (`plan_cache_mode`):
   * for a pool whose statements all have a fixed shape, such as the delivery worker's
   * (docs/operations.md, "Planning").
   */
  genericPlans?: boolean;
  /**
   * false: commits on these connections do not wait for the WAL flush (`synchronous_commit=off`).
   * Only for writes whose loss in a PostgreSQL crash costs a repeat, never data: the delivery
   * worker's job claims and settles (docs/architecture.md, "The delivery worker").
   */
  synchronousCommit?: boolean;
}

/**
 * postgres.js's view of a connection string. A `?host=/a/directory` parameter (libpq's and pg's way
 * to name a Unix-domain socket, which pg-boss understands) becomes postgres.js's `host` option: the
 * socket spares each statement the loopback TCP stack, much of the cost of a round trip.
 */
export function connectionOptions(url: string): { url: string; host?: string } {
  if (!URL.canParse(url)) return { url };
  const parsed = new URL(url);
  const host = parsed.searchParams.get('host');
  if (host === null || !host.startsWith('/')) return { url };
  parsed.searchParams.delete('host');
  return { url: parsed.toString(), host };
}

export function openDatabase(url: string, options: DatabaseOptions): DatabaseHandle {
  const target = connectionOptions(url);
  const sql = postgres(target.url, {
    ...(target.host !== undefined ? { host: target.host } : {}),
    max: options.poolSize,
    onnotice: () => {},
    connect_timeout: 10,
    // Idle connections are dropped so a restarted PostgreSQL is reconnected to lazily.
    idle_timeout: 60,
    // No JIT: Orbit's statements each touch a few rows, but an overestimate (a log that grew since its
    // last ANALYZE) can push one over jit_above_cost, and compiling it then took 20 ms of a 25 ms
    // statement. Set per connection, so it holds on any PostgreSQL.
    connection: {
      application_name: options.applicationName ?? 'orbit',
      jit: 'off',
      ...(options.genericPlans === true ? { plan_cache_mode: 'force_generic_plan' } : {}),
      ...(options.synchronousCommit === false ? { synchronous_commit: 'off' } : {}),
    },
  });
  const db = drizzle(preparing(sql), { schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}

/**
 * A delivery worker's claims pool: its two fetch loops, the settle of a recorded batch and the
 * heartbeat, with generic plans and without synchronous commit. A claim or settle lost in a crash of
 * PostgreSQL only makes a job run again, and the synchronous record that follows a claim flushes it
 * anyway: one flush less between an event's 202 and its delivery (docs/operations.md, "Connections").
 */
export function openClaimsPool(url: string): DatabaseHandle {
  return openDatabase(url, { poolSize: 4, applicationName: 'orbit-claims', genericPlans: true, synchronousCommit: false });
}

/**
 * A transaction whose BEGIN goes out with its first statements: `sql.begin` waits for BEGIN's
 * answer before running any, which on a loaded machine costs a round trip and an event-loop turn
 * per transaction (docs/operations.md, "Performance"). `run` gets the connection, reserved for it,
 * and BEGIN's answer, which it awaits together with its first statements. Committed when `run`
 * resolves, rolled back when it throws; the connection goes back to the pool only then.
 * `genericPlans`: the transaction's prepared statements use their generic plan (see
 * DatabaseOptions), set with the BEGIN in the same message.
 */
export async function pipelinedTransaction<T>(
  sql: postgres.Sql,
  run: (tx: postgres.ReservedSql, begun: Promise<unknown>) => Promise<T>,
  options: { genericPlans?: boolean } = {},
): Promise<T> {
  const tx = await sql.reserve();
  try {
    const begin =
      options.genericPlans === true ? tx.unsafe(`begin; set local plan_cache_mode = force_generic_plan`).simple() : tx.unsafe('begin');
    const begun = begin.execute();
    // Awaited by `run`; observed here too, so a BEGIN that fails before `run` awaits it is no unhandled rejection.
    begun.catch(() => undefined);
    let result: T;
    try {
      result = await run(tx, begun);
    } catch (error) {
      // Queued behind whatever `run` left in flight on this connection; on a dead one it fails too, harmlessly.
      await tx.unsafe('rollback').catch(() => undefined);
      throw error;
    }
    const ended = await tx.unsafe('commit');
    // COMMIT of a transaction a statement aborted answers ROLLBACK, without an error.
    if (ended.command !== 'COMMIT') throw new Error(`the transaction ended with ${ended.command}, not COMMIT`);
    return result;
  } finally {
    tx.release();
  }
}
