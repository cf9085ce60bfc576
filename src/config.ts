import { z } from 'zod';
import { parseDuration, parseDurationList } from './lib/durations.ts';
import { parseCidrList, type Cidr } from './domain/network.ts';
import { parseSigningSecret } from './domain/signing.ts';

/** A configuration error names the variable, the value it had and what is accepted. */
export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, value: string | undefined, accepted: string) {
    super(`invalid configuration: ${variable}=${shown(variable, value ?? '')}: expected ${accepted}`);
    this.variable = variable;
  }
}

const SECRET_VARIABLES = new Set(['ORBIT_ADMIN_KEY', 'ORBIT_SIGNING_SECRET', 'ORBIT_ENCRYPTION_KEY']);

/** The value as shown in an error: secrets never appear, a connection string loses its password. */
function shown(variable: string, value: string): string {
  if (SECRET_VARIABLES.has(variable)) return `<redacted, ${value.length} characters>`;
  if (variable === 'DATABASE_URL') return JSON.stringify(value.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@'));
  return JSON.stringify(value);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function integer(min: number, max: number) {
  return z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(max));
}

function duration(min: number, max: number) {
  return z
    .string()
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null) ctx.addIssue({ code: 'custom', message: 'not a duration' });
      return ms ?? 0;
    })
    .pipe(z.number().min(min).max(max));
}

const boolean = z
  .string()
  .transform((text) => text.trim().toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((text) => text === 'true' || text === '1' || text === 'yes');

/** What each variable accepts, in words, for the one-line error. */
const ACCEPTED: Record<string, string> = {
  DATABASE_URL: 'a postgres:// or postgresql:// connection string',
  PORT: 'an integer port from 0 to 65535',
  HOST: 'a host name or IP address to listen on',
  ORBIT_DATA_DIR: 'a directory path',
  ORBIT_EMBEDDED_PG_PORT: 'an integer port from 1024 to 65535',
  ORBIT_ADMIN_KEY: 'a key starting with gx_ followed by 20 to 200 characters of A-Z a-z 0-9 _ -',
  ORBIT_SIGNING_SECRET: 'a whsec_ secret whose part after the prefix is standard base64 of 24 to 64 bytes',
  ORBIT_RETRY_SCHEDULE:
    'a comma list of durations such as 5s,5m,30m,2h,8h (units ms, s, m, h, d; at most 20 steps, each at most 7d), or empty for no retries',
  ORBIT_RETRY_JITTER: 'a number from 0 to 1',
  ORBIT_DELIVERY_TIMEOUT: 'a duration from 100ms to 5m, such as 30s',
  ORBIT_ALLOW_HTTP: 'true or false',
  ORBIT_ALLOW_PRIVATE_NETWORKS: 'a comma list of CIDRs such as 10.0.0.0/8,127.0.0.1/32,::1/128',
  LOG_LEVEL: `one of ${LOG_LEVELS.join(', ')}`,
  ORBIT_ENCRYPTION_KEY: 'standard base64 of exactly 32 bytes (openssl rand -base64 32)',
  ORBIT_RETENTION: 'a duration from 1m to 3650d, such as 30d',
  ORBIT_WORKER_CONCURRENCY: 'an integer from 1 to 10000',
  ORBIT_MAX_CONNECTIONS_PER_ORIGIN: 'an integer from 1 to 1000',
  ORBIT_DB_POOL_SIZE: 'an integer from 2 to 200',
  ORBIT_API_PROCESSES: 'an integer from 1 to 64 (HTTP API processes of orbit serve)',
  ORBIT_WORKER_PROCESSES:
    'an integer from 0 to 64 (delivery worker processes of orbit serve); 0 only with DATABASE_URL set, where separate orbit worker processes deliver',
  ORBIT_PUBLIC_URL: 'an http:// or https:// address without a path, such as https://orbit.example.com',
};

const schema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/.+/)
    .optional(),
  PORT: integer(0, 65535).default(3000),
  HOST: z.string().min(1).max(255).default('0.0.0.0'),
  ORBIT_DATA_DIR: z.string().min(1).default('./.orbit'),
  ORBIT_EMBEDDED_PG_PORT: integer(1024, 65535).optional(),
  ORBIT_ADMIN_KEY: z
    .string()
    .regex(/^gx_[A-Za-z0-9_-]{20,200}$/)
    .optional(),
  ORBIT_SIGNING_SECRET: z
    .string()
    .refine((text) => parseSigningSecret(text) !== null)
    .optional(),
  ORBIT_RETRY_SCHEDULE: z
    .string()
    .default('5s,5m,30m,2h,8h')
    .transform((text, ctx) => {
      const list = parseDurationList(text);
      if (list === null || list.length > 20 || list.some((ms) => ms > 7 * 86_400_000)) {
        ctx.addIssue({ code: 'custom', message: 'bad schedule' });
        return [];
      }
      return list;
    }),
  ORBIT_RETRY_JITTER: z
    .string()
    .regex(/^\d+(\.\d+)?$/)
    .transform(Number)
    .pipe(z.number().min(0).max(1))
    .default(0.1),
  ORBIT_DELIVERY_TIMEOUT: duration(100, 300_000).default(30_000),
  ORBIT_ALLOW_HTTP: boolean.default(false),
  ORBIT_ALLOW_PRIVATE_NETWORKS: z
    .string()
    .transform((text, ctx) => {
      const list = parseCidrList(text);
      if (list === null) ctx.addIssue({ code: 'custom', message: 'bad CIDR list' });
      return list ?? [];
    })
    .default([]),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  ORBIT_ENCRYPTION_KEY: z
    .string()
    .refine((text) => /^[A-Za-z0-9+/]+={0,2}$/.test(text) && Buffer.from(text, 'base64').length === 32)
    .transform((text) => Buffer.from(text, 'base64'))
    .optional(),
  ORBIT_RETENTION: duration(60_000, 3650 * 86_400_000).default(30 * 86_400_000),
  ORBIT_WORKER_CONCURRENCY: integer(1, 10_000).default(256),
  ORBIT_MAX_CONNECTIONS_PER_ORIGIN: integer(1, 1000).default(32),
  ORBIT_DB_POOL_SIZE: integer(2, 200).default(10),
  ORBIT_API_PROCESSES: integer(1, 64).optional(),
  ORBIT_WORKER_PROCESSES: integer(0, 64).optional(),
  ORBIT_PUBLIC_URL: z
    .string()
    .regex(/^https?:\/\/[^/?#\s]+\/?$/)
    .refine((text) => URL.canParse(text))
    .transform((text) => new URL(text).origin)
    .optional(),
});

export interface Config {
  databaseUrl: string | undefined;
  port: number;
  host: string;
  dataDir: string;
  embeddedPgPort: number | undefined;
  adminKey: string | undefined;
  signingSecret: string | undefined;
  retrySchedule: number[];
  retryJitter: number;
  deliveryTimeoutMs: number;
  allowHttp: boolean;
  allowPrivateNetworks: Cidr[];
  logLevel: (typeof LOG_LEVELS)[number];
  encryptionKey: Buffer | undefined;
  retentionMs: number;
  workerConcurrency: number;
  maxConnectionsPerOrigin: number;
  dbPoolSize: number;
  /** `orbit serve`'s process counts; unset means derived from the machine's cores (src/process/supervisor.ts). */
  apiProcesses: number | undefined;
  workerProcesses: number | undefined;
  /** Where users reach Orbit (an origin): portal links, the console's origin check behind a proxy. */
  publicUrl: string;
}

/** Reads the environment once; the only place that touches process.env. Throws ConfigError. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable counts as unset, except the schedule, where empty means "no retries".
  const input: Record<string, string> = {};
  for (const key of Object.keys(ACCEPTED)) {
    const value = env[key];
    if (value === undefined) continue;
    if (value === '' && key !== 'ORBIT_RETRY_SCHEDULE') continue;
    input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const variable = String(parsed.error.issues[0]?.path[0] ?? 'environment');
    throw new ConfigError(variable, env[variable], ACCEPTED[variable] ?? 'a valid value');
  }
  const v = parsed.data;
  // With the embedded database nothing else can deliver: `orbit serve` needs a worker of its own.
  if (v.ORBIT_WORKER_PROCESSES === 0 && v.DATABASE_URL === undefined) {
    throw new ConfigError('ORBIT_WORKER_PROCESSES', env.ORBIT_WORKER_PROCESSES, ACCEPTED.ORBIT_WORKER_PROCESSES as string);
  }
  return {
    databaseUrl: v.DATABASE_URL,
    port: v.PORT,
    host: v.HOST,
    dataDir: v.ORBIT_DATA_DIR,
    embeddedPgPort: v.ORBIT_EMBEDDED_PG_PORT,
    adminKey: v.ORBIT_ADMIN_KEY,
    signingSecret: v.ORBIT_SIGNING_SECRET,
    retrySchedule: v.ORBIT_RETRY_SCHEDULE,
    retryJitter: v.ORBIT_RETRY_JITTER,
    deliveryTimeoutMs: v.ORBIT_DELIVERY_TIMEOUT,
    allowHttp: v.ORBIT_ALLOW_HTTP,
    allowPrivateNetworks: v.ORBIT_ALLOW_PRIVATE_NETWORKS,
    logLevel: v.LOG_LEVEL,
    encryptionKey: v.ORBIT_ENCRYPTION_KEY,
    retentionMs: v.ORBIT_RETENTION,
    workerConcurrency: v.ORBIT_WORKER_CONCURRENCY,
    maxConnectionsPerOrigin: v.ORBIT_MAX_CONNECTIONS_PER_ORIGIN,
    dbPoolSize: v.ORBIT_DB_POOL_SIZE,
    apiProcesses: v.ORBIT_API_PROCESSES,
    workerProcesses: v.ORBIT_WORKER_PROCESSES,
    publicUrl: v.ORBIT_PUBLIC_URL ?? `http://localhost:${v.PORT}`,
  };
}
