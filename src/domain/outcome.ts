/** How one attempt ended: succeeded, or failed with an error kind. Pure. */

import type { AttemptErrorKind, AttemptOutcome } from './delivery.ts';

/** What the sender reports when no HTTP answer came. */
export type TransportFailureKind = 'timeout' | 'connection' | 'dns' | 'tls' | 'blocked';
export interface TransportFailure {
  kind: TransportFailureKind;
  message: string;
}

export interface AttemptClassification {
  outcome: AttemptOutcome;
  error: { kind: AttemptErrorKind; message: string } | null;
}

export function classifyAttempt(input: { responseStatus: number | null; failure: TransportFailure | null }): AttemptClassification {
  // A failure after the headers (body reset, deadline hit while reading) wins over the status:
  // success is a 2xx answer within the deadline covering the whole exchange.
  if (input.failure !== null) return { outcome: 'failed', error: { kind: input.failure.kind, message: input.failure.message } };
  const status = input.responseStatus;
  if (status !== null) {
    if (status >= 200 && status <= 299) return { outcome: 'succeeded', error: null };
    if (status >= 300 && status <= 399) {
      return {
        outcome: 'failed',
        error: { kind: 'redirect', message: `receiver answered ${status} (a redirect); redirects are not followed` },
      };
    }
    return { outcome: 'failed', error: { kind: 'http_status', message: `receiver answered ${status}` } };
  }
  // Neither an answer nor a failure should not happen; still a failed attempt, never a silent success.
  return { outcome: 'failed', error: { kind: 'connection', message: 'no answer from the receiver' } };
}
