import { OrbitError, type ErrorDetail } from '../domain/errors.ts';
import { jsonBytes, LIMITS, unstorableJson, unstorableText } from '../domain/limits.ts';
import { EVENT_TYPES, type ReportedEvent } from '../domain/run.ts';
import { formatRetrySchedule, parseRetrySchedule, RETRY_SCHEDULE_RULE } from '../domain/schedule.ts';
import { customHeaderProblems, webhookUrlProblem, type WebhookUrlRules } from '../domain/webhook.ts';
import type { WebhookConfig } from '../db/schema.ts';

export interface WebhookInput {
  url: string;
  events?: readonly string[] | undefined;
  metadata?: Record<string, unknown> | null | undefined;
  headers?: Record<string, string> | undefined;
  ordered?: boolean | undefined;
  throttleRate?: number | null | undefined;
  retrySchedule?: string | readonly string[] | null | undefined;
}

export interface RunInput {
  workflowId: string;
  webhook?: WebhookInput | null | undefined;
  input?: unknown;
}

function fail(details: ErrorDetail[]): never {
  throw new OrbitError('validation_failed', 'the request is not valid', details);
}

function checkJson(details: ErrorDetail[], path: string, value: unknown, maxBytes: number): void {
  if (value === undefined) return;
  const problem = unstorableJson(value);
  if (problem) details.push({ path, message: problem });
  else if (jsonBytes(value) > maxBytes) details.push({ path, message: `is larger than ${maxBytes} bytes as JSON` });
}

/**
 * The rules a schema cannot express: the webhook URL policy, custom headers, sizes, and text that
 * PostgreSQL cannot store. Returns the webhook as stored (events defaulted to all six, deduplicated).
 */
export function validateRunInput(rules: WebhookUrlRules, input: RunInput): WebhookConfig | null {
  const details: ErrorDetail[] = [];
  const text = unstorableText(input.workflowId);
  if (text) details.push({ path: 'body.workflowId', message: text });
  checkJson(details, 'body.input', input.input, LIMITS.inputBytes);
  const webhook = input.webhook ?? null;
  if (webhook) {
    const urlProblem = webhookUrlProblem(webhook.url, rules);
    if (urlProblem) details.push({ path: 'body.webhook.url', message: urlProblem });
    checkJson(details, 'body.webhook.metadata', webhook.metadata ?? undefined, LIMITS.metadataBytes);
    for (const [name, message] of customHeaderProblems(webhook.headers ?? {})) {
      details.push({ path: name ? `body.webhook.headers.${name}` : 'body.webhook.headers', message });
    }
  }
  const retrySchedule = webhook ? retryScheduleText(webhook.retrySchedule) : null;
  if (retrySchedule === undefined) details.push({ path: 'body.webhook.retrySchedule', message: `must be ${RETRY_SCHEDULE_RULE}` });
  if (details.length > 0) fail(details);
  if (!webhook) return null;
  const events = webhook.events ? EVENT_TYPES.filter((type) => webhook.events?.includes(type)) : [...EVENT_TYPES];
  const config: WebhookConfig = { url: webhook.url, events, metadata: webhook.metadata ?? null, headers: webhook.headers ?? {} };
  // Delivery control only when asked for: a plain webhook is stored as it always was.
  if (webhook.ordered === true) config.ordered = true;
  if (typeof webhook.throttleRate === 'number') config.throttleRate = webhook.throttleRate;
  if (typeof retrySchedule === 'string') config.retrySchedule = retrySchedule;
  return config;
}

/**
 * A retry schedule given as text (`1s,5s,30s`) or a list of durations, in its normal text form;
 * null when not given; undefined when invalid (same syntax and limits as ORBIT_RETRY_SCHEDULE).
 */
export function retryScheduleText(value: string | readonly string[] | null | undefined): string | null | undefined {
  if (value === null || value === undefined) return null;
  const text = typeof value === 'string' ? value : value.join(',');
  const schedule = parseRetrySchedule(text);
  return schedule === null ? undefined : formatRetrySchedule(schedule);
}

export function validateEvent(event: ReportedEvent): void {
  const details: ErrorDetail[] = [];
  checkJson(details, 'body.data', event.data, LIMITS.eventDataBytes);
  if (event.error !== undefined) {
    const problem = unstorableText(event.error);
    if (problem) details.push({ path: 'body.error', message: problem });
  }
  if (details.length > 0) fail(details);
}
