/**
 * `idempotency-key` on the Svix-compatible POST routes (the SDKs send one on every POST, the same on
 * their own retries): the first successful answer is stored and a repeat of the same request with
 * the same key gets it back, byte for byte, without running again. A key is scoped to its URL, as
 * Svix scopes it; the same key and URL with another body is a 409 (where Svix would replay). A
 * repeat while the first is still running waits for it (up to a few seconds). Refusals and failures
 * are not stored, so a retry after one runs afresh.
 */
import { createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { ServiceDeps } from '../../services/deps.ts';
import { claimIdempotencyKey, releaseIdempotencyKey, storeIdempotentResponse, type Claim } from '../../services/idempotent-responses.ts';
import type { ApiEnv } from '../auth.ts';
import { svixError, svixValidation } from './errors.ts';

const KEY = /^[\x21-\x7e]{1,255}$/;
const WAIT_MS = 5_000;
const POLL_MS = 50;

export function idempotency(deps: Pick<ServiceDeps, 'db' | 'clock' | 'random'>): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const given = c.req.header('idempotency-key');
    if (c.req.method !== 'POST' || given === undefined) return next();
    if (!KEY.test(given)) {
      return svixValidation(c, [
        { loc: ['header', 'idempotency-key'], msg: 'must be 1 to 255 visible ASCII characters', type: 'value_error' },
      ]);
    }
    const { tenantId } = c.get('principal');
    // Reading the text first also keeps the exact bytes for the handler (message payloads).
    const body = await c.req.text();
    const url = new URL(c.req.url);
    const target = `${url.pathname}${url.search}`;
    // A key belongs to the URL it was sent to, as in Svix: one key on two routes is two requests.
    // The URL goes in hashed, so the stored key stays short whatever the query string.
    const key = `${createHash('sha256').update(target).digest('hex').slice(0, 32)}:${given}`;
    const hash = createHash('sha256').update(`${c.req.method}\n${target}\n${body}`).digest('hex');

    let claim: Claim = await claimIdempotencyKey(deps, tenantId, key, hash);
    const deadline = Date.now() + WAIT_MS;
    while (claim.kind === 'running' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      claim = await claimIdempotencyKey(deps, tenantId, key, hash);
    }
    switch (claim.kind) {
      case 'replay':
        return new Response(claim.body, {
          status: claim.status,
          headers: { 'content-type': 'application/json', 'idempotent-replayed': 'true' },
        });
      case 'mismatch':
        return svixError(c, 409, 'idempotency_conflict', 'this idempotency-key was used with a different request');
      case 'running':
        return svixError(c, 409, 'idempotency_conflict', 'a request with this idempotency-key is still being processed; retry shortly');
      case 'claimed':
        break;
    }

    try {
      await next();
    } catch (error) {
      await releaseIdempotencyKey(deps, tenantId, key);
      throw error;
    }
    const status = c.res.status;
    if (status >= 200 && status < 300) {
      await storeIdempotentResponse(deps, tenantId, key, { status, body: await c.res.clone().text() });
    } else {
      await releaseIdempotencyKey(deps, tenantId, key);
    }
  };
}
