import postgres from 'postgres';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { schema } from './schema.ts';

export type Database = PostgresJsDatabase<typeof schema>;
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
/** Queries that work the same inside or outside a transaction. */
export type Queryable = Database | Transaction;
export type Sql = postgres.Sql;

export interface DatabaseHandle {
  db: Database;
  sql: Sql;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  poolSize: number;
  applicationName?: string;
}

export function openDatabase(url: string, options: DatabaseOptions): DatabaseHandle {
  const sql = postgres(url, {
    max: options.poolSize,
    onnotice: () => {},
    connect_timeout: 10,
    // Idle connections are dropped so a restarted PostgreSQL is reconnected to lazily.
    idle_timeout: 60,
    connection: { application_name: options.applicationName ?? 'orbit' },
  });
  const db = drizzle(sql, { schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
