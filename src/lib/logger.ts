import pino from 'pino';

export type Logger = pino.Logger;

/** Paths whose values never reach a log line, wherever they appear in a logged object. */
const REDACT = [
  'authorization',
  'apiKey',
  'secret',
  'signingSecret',
  'password',
  '*.authorization',
  '*.apiKey',
  '*.secret',
  '*.signingSecret',
  '*.password',
  'headers.authorization',
  'req.headers.authorization',
  'webhook.headers.*',
  '*.webhook.headers.*',
  'customHeaders.*',
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
