/**
 * Configuration: environment variables only, read once at start, each described once in VARIABLES.
 * From that one table come the parsing, the one-line error for a bad value, the README's table
 * (`npm run docs:config` writes it; a test checks it is current) and the deployment manifests'
 * check. This is the only reader of process.env.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration } from './lib/durations.ts';
import { parseCidrList, type Cidr } from './domain/network.ts';
import { parseRetrySchedule, RETRY_SCHEDULE_RULE } from './domain/schedule.ts';
import { parseSigningSecret } from './domain/signing.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// A DNS name: dot-separated labels of letters, digits and inner hyphens.
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

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

interface VariableSpec<S extends z.ZodType<unknown, string>> {
  /** The default as one writes it (parsed like a set value); absent: unset. */
  default?: string;
  /** The README's default column when it is not a literal value. */
  defaultText?: string;
  /** What a value must be, in words: the error names it. */
  accepted: string;
  /** What it does, for the README. */
  meaning: string;
  /** Never echoed in an error. */
  secret?: boolean;
  /** An empty value is a value (the empty retry schedule), not "unset". */
  emptyIsValue?: boolean;
  schema: S;
}

const variable = <S extends z.ZodType<unknown, string>>(spec: VariableSpec<S>): VariableSpec<S> => spec;

export const VARIABLES = {
  DATABASE_URL: variable({
    defaultText: 'unset → embedded PostgreSQL',
    accepted: 'a postgres:// or postgresql:// connection string',
    meaning: 'PostgreSQL 14+ connection string',
    schema: z.string().regex(/^postgres(ql)?:\/\/.+/),
  }),
  PORT: variable({ default: '3000', accepted: 'an integer port from 0 to 65535', meaning: 'HTTP listen port', schema: integer(0, 65535) }),
  HOST: variable({
    default: '0.0.0.0',
    accepted: 'a host name or IP address to listen on',
    meaning: 'HTTP listen address (`0.0.0.0`: every interface)',
    schema: z
      .string()
      .max(253)
      .refine((text) => isIP(text) !== 0 || HOST_NAME.test(text)),
  }),
  ORBIT_DATA_DIR: variable({
    default: './.orbit',
    accepted: 'a directory path',
    meaning: 'where the embedded database lives (kept across restarts)',
    schema: z.string().min(1),
  }),
  ORBIT_EMBEDDED_PG_PORT: variable({
    defaultText: 'a free port, logged at start',
    accepted: 'an integer port from 1024 to 65535',
    meaning: "the embedded database's port",
    schema: integer(1024, 65535),
  }),
  ORBIT_ADMIN_KEY: variable({
    accepted: 'a key starting with gx_ followed by 20 to 200 characters of A-Z a-z 0-9 _ -',
    meaning:
      'an admin key with exactly this value (`gx_` + 20–200 of `A-Za-z0-9_-`), stored hashed; else one is generated at first start and printed once',
    secret: true,
    schema: z.string().regex(/^gx_[A-Za-z0-9_-]{20,200}$/),
  }),
  ORBIT_SIGNING_SECRET: variable({
    accepted: 'a whsec_ secret whose part after the prefix is standard base64 of 24 to 64 bytes',
    meaning:
      "the default tenant's signing secret (`whsec_` + standard base64 of 24–64 bytes), so receivers migrating from Svix keep theirs; else one is generated",
    secret: true,
    schema: z.string().refine((text) => parseSigningSecret(text) !== null),
  }),
  ORBIT_RETRY_SCHEDULE: variable({
    default: '5s,5m,30m,2h,8h',
    accepted: RETRY_SCHEDULE_RULE,
    meaning:
      'delays between attempts after the first, immediate one (`ms`, `s`, `m`, `h`, `d`; at most 20 steps of at most 7 d); empty: no retries',
    emptyIsValue: true,
    schema: z.string().transform((text, ctx) => {
      const list = parseRetrySchedule(text);
      if (list === null) ctx.addIssue({ code: 'custom', message: 'bad schedule' });
      return list ?? [];
    }),
  }),
  ORBIT_RETRY_JITTER: variable({
    default: '0.1',
    accepted: 'a number from 0 to 1',
    meaning: 'each delay × a random factor in `[1-j, 1+j]`; `0`: the exact schedule',
    schema: z
      .string()
      .regex(/^\d+(\.\d+)?$/)
      .transform(Number)
      .pipe(z.number().min(0).max(1)),
  }),
  ORBIT_DELIVERY_TIMEOUT: variable({
    default: '30s',
    accepted: 'a duration from 100ms to 5m, such as 30s',
    meaning: 'total time for one attempt: connect, send, headers and body (100 ms – 5 min)',
    schema: duration(100, 300_000),
  }),
  ORBIT_ALLOW_HTTP: variable({
    default: 'false',
    accepted: 'true or false',
    meaning: 'accept `http://` webhook URLs (HTTPS only otherwise)',
    schema: boolean,
  }),
  ORBIT_ALLOW_PRIVATE_NETWORKS: variable({
    accepted: 'a comma list of CIDRs such as 10.0.0.0/8,127.0.0.1/32,::1/128',
    meaning:
      'comma list of CIDRs webhooks may reach although private, loopback, link-local, … (e.g. `10.0.0.0/8,127.0.0.1/32`); all such addresses are refused otherwise, also after DNS resolution',
    schema: z.string().transform((text, ctx) => {
      const list = parseCidrList(text);
      if (list === null) ctx.addIssue({ code: 'custom', message: 'bad CIDR list' });
      return list ?? [];
    }),
  }),
  LOG_LEVEL: variable({
    default: 'info',
    accepted: `one of ${LOG_LEVELS.join(', ')}`,
    meaning: 'JSON log lines on stdout from this level up',
    schema: z.enum(LOG_LEVELS),
  }),
  ORBIT_ENCRYPTION_KEY: variable({
    accepted: 'standard base64 of exactly 32 bytes (openssl rand -base64 32)',
    meaning: 'base64 of 32 bytes: encrypts signing secrets at rest (AES-256-GCM)',
    secret: true,
    schema: z
      .string()
      .refine((text) => /^[A-Za-z0-9+/]+={0,2}$/.test(text) && Buffer.from(text, 'base64').length === 32)
      .transform((text) => Buffer.from(text, 'base64')),
  }),
  ORBIT_RETENTION: variable({
    default: '30d',
    accepted: 'a duration from 1m to 3650d, such as 30d',
    meaning: 'finished messages older than this are deleted with their deliveries and attempts',
    schema: duration(60_000, 3650 * 86_400_000),
  }),
  ORBIT_WORKER_CONCURRENCY: variable({
    default: '256',
    accepted: 'an integer from 1 to 10000',
    meaning: 'attempts in flight per worker process',
    schema: integer(1, 10_000),
  }),
  ORBIT_MAX_CONNECTIONS_PER_ORIGIN: variable({
    default: '32',
    accepted: 'an integer from 1 to 1000',
    meaning:
      'attempts in flight (and connections) per receiver origin and delivery queue, shared by all the workers of the deployment: a slow or large receiver gets no more than this',
    schema: integer(1, 1000),
  }),
  ORBIT_DB_POOL_SIZE: variable({
    default: '10',
    accepted: 'an integer from 2 to 200',
    meaning:
      "PostgreSQL connections per process for Orbit's own queries, a worker's job fetch and settling among them (pg-boss has its own pool for the rest)",
    schema: integer(2, 200),
  }),
  ORBIT_API_PROCESSES: variable({
    defaultText: 'from the cores',
    accepted: 'an integer from 1 to 64 (HTTP API processes of orbit serve)',
    meaning:
      "`orbit serve`'s HTTP API processes, sharing `PORT`; default `max(1, floor(P/2))` where P is `os.availableParallelism()` (2 cores: 1)",
    schema: integer(1, 64),
  }),
  ORBIT_WORKER_PROCESSES: variable({
    defaultText: 'from the cores',
    accepted:
      'an integer from 0 to 64 (delivery worker processes of orbit serve); 0 only with DATABASE_URL set, where separate orbit worker processes deliver',
    meaning:
      "`orbit serve`'s delivery worker processes; default `max(1, ceil(P/2))` (2 cores: 1); `0` only with `DATABASE_URL` set, where `orbit worker` processes elsewhere deliver",
    schema: integer(0, 64),
  }),
  ORBIT_PUBLIC_URL: variable({
    defaultText: '`http://localhost:<PORT>`',
    accepted: 'an http:// or https:// address without a path, such as https://orbit.example.com',
    meaning: "the address users reach Orbit at: portal links, the console's origin check behind a proxy",
    schema: z
      .string()
      .regex(/^https?:\/\/[^/?#\s]+\/?$/)
      .refine((text) => URL.canParse(text))
      .transform((text) => new URL(text).origin),
  }),
  // Delivery control (README, "Delivery control").
  ORBIT_ENDPOINT_DISABLE_AFTER: variable({
    default: '5d',
    accepted: 'a duration from 1s to 3650d, such as 5d',
    meaning:
      "an application's endpoint whose deliveries have all failed for this long, since its first failure after its last success, is disabled (its pending messages end `failed`); any success resets the clock",
    schema: duration(1_000, 3650 * 86_400_000),
  }),
  ORBIT_OPERATIONAL_WEBHOOK_URL: variable({
    accepted: 'an http:// or https:// URL (http:// only with ORBIT_ALLOW_HTTP=true)',
    meaning:
      'where Orbit sends its operational events (`message.attempt.exhausted`, `endpoint.disabled`, …), Svix-shaped, signed with `ORBIT_OPERATIONAL_WEBHOOK_SECRET`',
    schema: z
      .string()
      .max(2048)
      .refine((text) => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol)),
  }),
  ORBIT_OPERATIONAL_WEBHOOK_SECRET: variable({
    defaultText: 'generated at first start, printed once',
    accepted: 'a whsec_ secret whose part after the prefix is standard base64 of 24 to 64 bytes',
    meaning: "the operational webhooks' signing secret (`whsec_` + standard base64 of 24–64 bytes)",
    secret: true,
    schema: z.string().refine((text) => parseSigningSecret(text) !== null),
  }),
} as const;

export type VariableName = keyof typeof VARIABLES;

/** A configuration error names the variable, the value it had and what is accepted. */
export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: VariableName, value: string | undefined) {
    super(`invalid configuration: ${variable}=${shown(variable, value ?? '')}: expected ${VARIABLES[variable].accepted}`);
    this.variable = variable;
  }
}

/** The value as shown in an error: secrets never appear, a connection string loses its password. */
function shown(name: VariableName, value: string): string {
  const spec: VariableSpec<z.ZodType<unknown, string>> = VARIABLES[name];
  if (spec.secret === true) return `<redacted, ${value.length} characters>`;
  if (name === 'DATABASE_URL') return JSON.stringify(value.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@'));
  return JSON.stringify(value);
}

type Parsed = { [K in VariableName]: z.output<(typeof VARIABLES)[K]['schema']> | undefined };

function parseAll(env: Record<string, string | undefined>): Parsed {
  const values: Record<string, unknown> = {};
  for (const name of Object.keys(VARIABLES) as VariableName[]) {
    const spec: VariableSpec<z.ZodType<unknown, string>> = VARIABLES[name];
    const given = env[name];
    // An empty variable counts as unset, unless empty is a value of its own.
    const text = given === undefined || (given === '' && spec.emptyIsValue !== true) ? spec.default : given;
    if (text === undefined) continue;
    const parsed = spec.schema.safeParse(text);
    if (!parsed.success) throw new ConfigError(name, given);
    values[name] = parsed.data;
  }
  return values as Parsed;
}

/** A variable with a default always has a value. */
function defaulted<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('a variable with a default had no value');
  return value;
}

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
  /** Auto-disable: an endpoint failing for this long (since its first failure after a success) is disabled. */
  endpointDisableAfterMs: number;
  /** Where Orbit sends its operational events (deployment-wide); undefined for none. */
  operationalWebhookUrl: string | undefined;
  /** Its signing secret; undefined: generated at first start and printed once. */
  operationalWebhookSecret: string | undefined;
}

/** Reads the environment once. Throws ConfigError for the first bad value. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const v = parseAll(env);
  // With the embedded database nothing else can deliver: `orbit serve` needs a worker of its own.
  if (v.ORBIT_WORKER_PROCESSES === 0 && v.DATABASE_URL === undefined) {
    throw new ConfigError('ORBIT_WORKER_PROCESSES', env.ORBIT_WORKER_PROCESSES);
  }
  // Orbit's own operational webhooks follow the rule every webhook URL does.
  if (v.ORBIT_OPERATIONAL_WEBHOOK_URL?.startsWith('http:') === true && v.ORBIT_ALLOW_HTTP !== true) {
    throw new ConfigError('ORBIT_OPERATIONAL_WEBHOOK_URL', env.ORBIT_OPERATIONAL_WEBHOOK_URL);
  }
  const port = defaulted(v.PORT);
  return {
    databaseUrl: v.DATABASE_URL,
    port,
    host: defaulted(v.HOST),
    dataDir: defaulted(v.ORBIT_DATA_DIR),
    embeddedPgPort: v.ORBIT_EMBEDDED_PG_PORT,
    adminKey: v.ORBIT_ADMIN_KEY,
    signingSecret: v.ORBIT_SIGNING_SECRET,
    retrySchedule: defaulted(v.ORBIT_RETRY_SCHEDULE),
    retryJitter: defaulted(v.ORBIT_RETRY_JITTER),
    deliveryTimeoutMs: defaulted(v.ORBIT_DELIVERY_TIMEOUT),
    allowHttp: defaulted(v.ORBIT_ALLOW_HTTP),
    allowPrivateNetworks: v.ORBIT_ALLOW_PRIVATE_NETWORKS ?? [],
    logLevel: defaulted(v.LOG_LEVEL),
    encryptionKey: v.ORBIT_ENCRYPTION_KEY,
    retentionMs: defaulted(v.ORBIT_RETENTION),
    workerConcurrency: defaulted(v.ORBIT_WORKER_CONCURRENCY),
    maxConnectionsPerOrigin: defaulted(v.ORBIT_MAX_CONNECTIONS_PER_ORIGIN),
    dbPoolSize: defaulted(v.ORBIT_DB_POOL_SIZE),
    apiProcesses: v.ORBIT_API_PROCESSES,
    workerProcesses: v.ORBIT_WORKER_PROCESSES,
    publicUrl: v.ORBIT_PUBLIC_URL ?? `http://localhost:${port}`,
    endpointDisableAfterMs: defaulted(v.ORBIT_ENDPOINT_DISABLE_AFTER),
    operationalWebhookUrl: v.ORBIT_OPERATIONAL_WEBHOOK_URL,
    operationalWebhookSecret: v.ORBIT_OPERATIONAL_WEBHOOK_SECRET,
  };
}

/** The README's configuration table, as `npm run docs:config` writes it. */
export function configurationTable(): string {
  const rows = (Object.keys(VARIABLES) as VariableName[]).map((name) => {
    const spec: VariableSpec<z.ZodType<unknown, string>> = VARIABLES[name];
    const fallback = spec.defaultText ?? (spec.default === undefined ? 'unset' : `\`${spec.default}\``);
    return `| \`${name}\` | ${fallback} | ${spec.meaning} |`;
  });
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
