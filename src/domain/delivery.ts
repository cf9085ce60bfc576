/**
 * The words of the delivery log, each written once: every other module (the database schema, the
 * services, the API's schemas, the console) imports these lists.
 */

/** A message is `pending` while an attempt is planned or running. */
export const MESSAGE_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export const ATTEMPT_OUTCOMES = ['succeeded', 'failed'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** What started an attempt: the retry schedule, an operator's retry, or a recover of failed messages. */
export const ATTEMPT_TRIGGERS = ['scheduled', 'manual', 'recover'] as const;
export type AttemptTrigger = (typeof ATTEMPT_TRIGGERS)[number];

/** Why an attempt failed. */
export const ATTEMPT_ERROR_KINDS = ['timeout', 'connection', 'dns', 'tls', 'blocked', 'redirect', 'http_status'] as const;
export type AttemptErrorKind = (typeof ATTEMPT_ERROR_KINDS)[number];

/**
 * Whether an attempt is a step of the retry schedule: scheduled ones and those of a recover are (a
 * failure plans the next step, the last one fails the message); a manual one is extra and moves
 * nothing.
 */
export function onSchedule(trigger: AttemptTrigger): boolean {
  return trigger !== 'manual';
}

/**
 * Where a message goes: an application's standing endpoint, a run's webhook, or an operational
 * endpoint (Orbit's events about itself). One model, one delivery path for all three.
 */
export const ENDPOINT_KINDS = ['app', 'run', 'operational'] as const;
export type EndpointKind = (typeof ENDPOINT_KINDS)[number];
