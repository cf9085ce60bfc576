/**
 * The one outbound HTTP path: POST over HTTP/1.1 with undici, one total deadline, no redirects,
 * at most 64 KiB of the answer kept, and the SSRF guard at connect time. Receiver and network
 * failures come back as values, never as exceptions.
 */
import { Agent, buildConnector, request } from 'undici';
import type { Readable } from 'node:stream';
import type { Clock } from '../lib/clock.ts';
import type { Cidr } from '../domain/network.ts';
import type { TransportFailure } from '../domain/outcome.ts';
import { guardedLookup, refuseIpLiteral, refuseLiteralAtConnect } from './guard.ts';
import { describeFailure } from './failures.ts';

export interface SenderOptions {
  timeoutMs: number;
  maxConnectionsPerOrigin: number;
  allowPrivateNetworks: readonly Cidr[];
  clock: Clock;
}

export interface OutboundRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** e.g. pg-boss job.signal: aborting it ends the attempt at once. */
  signal?: AbortSignal;
}

export interface SendResult {
  startedAt: Date;
  durationMs: number;
  /** Null when no response (status line) came. */
  responseStatus: number | null;
  /** The first 64 KiB of the answer as UTF-8 text; null when no response. */
  responseBody: string | null;
  /** Raw Retry-After header of the answer. */
  retryAfter: string | null;
  /** Set when the exchange did not complete; may come with a status when it broke after the headers. */
  failure: TransportFailure | null;
}

export interface Sender {
  send(request: OutboundRequest): Promise<SendResult>;
  close(): Promise<void>;
}

export const MAX_RESPONSE_BYTES = 64 * 1024;

export const ABORTED_MESSAGE = 'attempt aborted: worker shutting down';

export function createSender(options: SenderOptions): Sender {
  const allowed = options.allowPrivateNetworks;
  const baseConnect = buildConnector({
    lookup: guardedLookup(allowed),
    // The total deadline governs; undici's own connect timer must not fire first.
    timeout: options.timeoutMs + 1_000,
    allowH2: false,
  });
  const agent = new Agent({
    connections: options.maxConnectionsPerOrigin,
    allowH2: false,
    // Idle timers, not a total deadline: keep them beyond the deadline so AbortSignal.timeout rules.
    headersTimeout: options.timeoutMs + 1_000,
    bodyTimeout: options.timeoutMs + 1_000,
    connect: (connectOptions, callback) => {
      const refused = refuseLiteralAtConnect(connectOptions.hostname, allowed);
      if (refused !== null) return callback(refused, null);
      baseConnect(connectOptions, callback);
    },
  });

  async function send(outbound: OutboundRequest): Promise<SendResult> {
    const startedAt = options.clock.now();
    const started = performance.now();
    let responseStatus: number | null = null;
    let retryAfter: string | null = null;
    const capture = new Capture();
    const finish = (failure: TransportFailure | null): SendResult => ({
      startedAt,
      durationMs: Math.round(performance.now() - started),
      responseStatus,
      responseBody: responseStatus === null ? null : capture.text(),
      retryAfter,
      failure,
    });

    let url: URL;
    try {
      url = new URL(outbound.url);
    } catch {
      return finish({ kind: 'blocked', message: `invalid URL ${JSON.stringify(outbound.url)}` });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return finish({ kind: 'blocked', message: `URL scheme ${url.protocol} is not http: or https:` });
    }
    // IP literals never reach the lookup hook, so they are checked here, before any connection.
    const literal = refuseIpLiteral(url.hostname, allowed);
    if (literal !== null) return finish({ kind: 'blocked', message: literal });
    // A function, so TypeScript does not narrow `aborted` to false across the awaits below.
    const callerAborted = (): boolean => outbound.signal?.aborted === true;
    if (callerAborted()) return finish({ kind: 'connection', message: ABORTED_MESSAGE });

    // One controller and one timer per attempt, both released when it ends: AbortSignal.timeout and
    // AbortSignal.any would keep a timer and weak references alive for the whole deadline.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('delivery deadline'));
    }, options.timeoutMs);
    const onCallerAbort = (): void => controller.abort(outbound.signal?.reason);
    outbound.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const signal = controller.signal;
    try {
      const response = await request(url, {
        method: 'POST',
        headers: outbound.headers,
        body: outbound.body,
        signal,
        dispatcher: agent,
      });
      responseStatus = response.statusCode;
      const header = response.headers['retry-after'];
      retryAfter = Array.isArray(header) ? (header[0] ?? null) : (header ?? null);
      await capture.read(response.body);
      return finish(null);
    } catch (error) {
      // Which signal fired tells a caller's abort from our deadline, whatever error undici threw.
      if (callerAborted()) return finish({ kind: 'connection', message: ABORTED_MESSAGE });
      if (timedOut) return finish({ kind: 'timeout', message: `no complete answer within the ${options.timeoutMs} ms deadline` });
      return finish(describeFailure(error, url.hostname));
    } finally {
      clearTimeout(timer);
      outbound.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  return {
    send,
    close: () => agent.close(),
  };
}

/** Keeps the first 64 KiB of a body, then destroys the stream so the rest is never read. */
class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  async read(body: Readable): Promise<void> {
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        const room = MAX_RESPONSE_BYTES - this.size;
        const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
        this.chunks.push(kept);
        this.size += kept.length;
        if (this.size >= MAX_RESPONSE_BYTES) break;
      }
    } finally {
      body.destroy();
    }
  }

  text(): string {
    // stream: true drops a multi-byte character cut at the cap instead of emitting U+FFFD;
    // NUL cannot be stored in a PostgreSQL text column, so it becomes U+FFFD.
    return new TextDecoder('utf-8').decode(Buffer.concat(this.chunks), { stream: true }).replaceAll('\u0000', '\uFFFD');
  }
}
