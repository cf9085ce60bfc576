/** Shapes of the delivery log (README, "API overview"), shared by the admin log and run deliveries routes. */
import { z } from '@hono/zod-openapi';
import { OrbitError } from '../../domain/errors.ts';
import { parseDuration } from '../../lib/durations.ts';
import { ATTEMPT_ERROR_KINDS, ATTEMPT_OUTCOMES, ATTEMPT_TRIGGERS, MESSAGE_STATUSES } from '../../domain/delivery.ts';
import { isMomentInRange, ITERATOR_RULE, MOMENT_RANGE_RULE } from '../../domain/limits.ts';
import { isValidIterator } from '../../services/delivery-log.ts';

export const LogIteratorQuery = z
  .string()
  .refine(isValidIterator, ITERATOR_RULE)
  .optional()
  .openapi({ description: 'the `iterator` of the previous page (opaque)' });

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;

/** A moment: an absolute ISO 8601 time, or a duration meaning that long before now. */
export type TimeInput = { at: Date } | { agoMs: number };

export const TIME_RULE = 'must be an ISO 8601 time such as 2026-02-18T12:00:00Z, or a duration before now such as 30m, 24h or 7d';

export const TimeValue = z
  .string()
  .transform((text, ctx): TimeInput => {
    const ago = parseDuration(text);
    if (ago !== null) return { agoMs: ago };
    const at = ISO_DATE.test(text.trim()) ? new Date(text.trim()) : null;
    if (at === null || Number.isNaN(at.getTime())) {
      ctx.addIssue({ code: 'custom', message: TIME_RULE });
      return z.NEVER;
    }
    if (!isMomentInRange(at)) {
      ctx.addIssue({ code: 'custom', message: MOMENT_RANGE_RULE });
      return z.NEVER;
    }
    return { at };
  })
  .openapi({
    type: 'string',
    example: '2026-02-18T12:00:00Z',
    description: 'an ISO 8601 time, or a duration before now (`30m`, `24h`, `7d`)',
  });

/** A moment resolved against now; a duration reaching back before year 1 is a 422 naming `path`. */
export function resolveTime(input: TimeInput, now: Date, path: string): Date;
export function resolveTime(input: TimeInput | undefined, now: Date, path: string): Date | undefined;
export function resolveTime(input: TimeInput | undefined, now: Date, path: string): Date | undefined {
  if (input === undefined) return undefined;
  const at = 'at' in input ? input.at : new Date(now.getTime() - input.agoMs);
  if (!isMomentInRange(at)) throw new OrbitError('validation_failed', 'the request is not valid', [{ path, message: MOMENT_RANGE_RULE }]);
  return at;
}

/** since/until resolved against now; until must come after since. `prefix` names them in details. */
export function resolveWindow(
  input: { since?: TimeInput | undefined; until?: TimeInput | undefined },
  now: Date,
  prefix: string,
): { since: Date | undefined; until: Date | undefined } {
  const since = resolveTime(input.since, now, `${prefix}.since`);
  const until = resolveTime(input.until, now, `${prefix}.until`);
  if (since && until && since >= until) {
    throw new OrbitError('validation_failed', 'the request is not valid', [{ path: `${prefix}.until`, message: 'must be after since' }]);
  }
  return { since, until };
}

export const MessageStatusSchema = z.enum(MESSAGE_STATUSES).openapi('MessageStatus');

export const MessageSchema = z
  .object({
    id: z
      .string()
      .openapi({ description: 'the message id: the svix-id / webhook-id of every attempt', example: 'msg_08QAIw9MnoEyeUVwXmXpDng' }),
    tenantId: z.string(),
    runId: z.string().nullable().openapi({ description: "the run, for a run's message; null for an application's" }),
    workflowId: z.string().nullable(),
    appId: z.string().nullable().openapi({ description: "the application, for an application's message; null for a run's" }),
    endpointId: z
      .string()
      .nullable()
      .openapi({ description: "the application's endpoint this row is the delivery to; null for a run's webhook" }),
    eventType: z.string().openapi({ example: 'run.completed' }),
    url: z.string().nullable(),
    status: MessageStatusSchema,
    attemptCount: z.number().int(),
    nextAttemptAt: z.string().nullable(),
    failureReason: z
      .string()
      .nullable()
      .openapi({ description: 'why the delivery ended failed without an attempt (content expunged, endpoint disabled)' }),
    waitingReason: z.string().nullable().openapi({
      description: 'why a pending delivery has no attempt planned yet: it waits its turn at an ordered endpoint (null otherwise)',
    }),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
  })
  .openapi('Message', {
    description:
      'One message at one endpoint (a delivery). A run message has one; an application message one per endpoint it went to, each under the same id.',
  });

export const AttemptSchema = z
  .object({
    id: z.string(),
    messageId: z.string(),
    endpointId: z.string().nullable().openapi({ description: "the application's endpoint; null for a run's webhook" }),
    url: z.string().openapi({ description: 'the URL attempted' }),
    attempt: z.number().int().openapi({ description: '1-based, per delivery' }),
    trigger: z.enum(ATTEMPT_TRIGGERS),
    outcome: z.enum(ATTEMPT_OUTCOMES),
    startedAt: z.string(),
    durationMs: z.number().int(),
    responseStatus: z.number().int().nullable().openapi({ description: 'null when no response came' }),
    responseBody: z
      .string()
      .nullable()
      .openapi({ description: 'the first 64 KiB of the answer, as text; null when none came or once expunged' }),
    error: z.object({ kind: z.enum(ATTEMPT_ERROR_KINDS), message: z.string() }).nullable(),
    nextAttemptAt: z.string().nullable().openapi({ description: 'the retry this attempt planned; null when none' }),
  })
  .openapi('Attempt');

export const MessageWithAttemptsSchema = MessageSchema.extend({ attempts: z.array(AttemptSchema) }).openapi('MessageWithAttempts');

export const MessageDetailSchema = MessageSchema.extend({
  payload: z.string().nullable().openapi({ description: 'the exact body text sent; null once expunged' }),
  expunged: z.boolean(),
  deliveries: z.array(MessageSchema).openapi({ description: 'every delivery of the message' }),
  attempts: z.array(AttemptSchema).openapi({ description: 'every attempt at every endpoint, oldest first' }),
}).openapi('MessageDetail');
