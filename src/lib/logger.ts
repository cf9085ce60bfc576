import pino from 'pino';

export type Logger = pino.Logger;

/**
 * Paths whose values never reach a log line. pino matches paths, not names at any depth, so each
 * credential is listed at the top level and one and two levels down (`req.headers.authorization`).
 * Custom webhook header values are tenants' own credentials as often as not: all of them go.
 */
const CREDENTIALS = [
  'authorization',
  'apiKey',
  'adminKey',
  'secret',
  'secrets',
  'signingSecret',
  'encryptionKey',
  'password',
  'databaseUrl',
  'connectionString',
];
const REDACT = [
  ...CREDENTIALS.flatMap((name) => [name, `*.${name}`, `*.*.${name}`]),
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
  'webhook.headers.*',
  '*.webhook.headers.*',
  '*.*.webhook.headers.*',
  'customHeaders.*',
  '*.customHeaders.*',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'orbit' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
