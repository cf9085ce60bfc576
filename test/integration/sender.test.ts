import diagnostics from 'node:diagnostics_channel';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSender, type SendResult, type Sender } from '../../src/sender/sender.ts';
import { parseCidrList, type Cidr } from '../../src/domain/network.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { startFakeReceiver, startTlsReceiver, type FakeReceiver } from '../support/fake-receiver.ts';

const LOOPBACK = parseCidrList('127.0.0.0/8') as Cidr[];
const body = JSON.stringify({ success: true, type: 'run.completed' });
const headers = { 'content-type': 'application/json', 'user-agent': 'Orbit/test' };

const senders: Sender[] = [];
const receivers: FakeReceiver[] = [];

function sender(options: { timeoutMs?: number; allow?: readonly Cidr[] } = {}): Sender {
  const created = createSender({
    timeoutMs: options.timeoutMs ?? 5_000,
    maxConnectionsPerOrigin: 4,
    allowPrivateNetworks: options.allow ?? LOOPBACK,
    clock: systemClock,
  });
  senders.push(created);
  return created;
}

async function receiver(script?: Parameters<typeof startFakeReceiver>[0]): Promise<FakeReceiver> {
  const started = await startFakeReceiver(script);
  receivers.push(started);
  return started;
}

afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  await Promise.all(senders.splice(0).map((s) => s.close()));
});

describe('sender against a fake receiver', () => {
  it('delivers a POST and reports a 2xx answer with its body', async () => {
    const target = await receiver({ script: [{ status: 200, body: 'thanks', headers: { 'x-reply': 'yes' } }] });
    const before = Date.now();
    const result = await sender().send({ url: target.url, headers: { ...headers, 'x-team': 'growth' }, body });
    expect(result).toMatchObject({ responseStatus: 200, responseBody: 'thanks', retryAfter: null, failure: null });
    expect(result.startedAt.getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    const [request] = await target.waitForRequests(1);
    expect(request).toMatchObject({ method: 'POST', path: '/hook', body });
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['x-team']).toBe('growth');
    expect(request?.headers['content-length']).toBe(String(Buffer.byteLength(body)));
  });

  it('captures a failing status, its body and Retry-After', async () => {
    const target = await receiver({ script: [{ status: 503, body: 'busy', headers: { 'retry-after': '120' } }] });
    const result = await sender().send({ url: target.url, headers, body });
    expect(result).toMatchObject({ responseStatus: 503, responseBody: 'busy', retryAfter: '120', failure: null });
  });

  it('does not follow a redirect: one request, the 3xx recorded', async () => {
    const elsewhere = await receiver();
    const target = await receiver({ script: [{ redirect: elsewhere.url, status: 307 }] });
    const result = await sender().send({ url: target.url, headers, body });
    expect(result).toMatchObject({ responseStatus: 307, failure: null });
    expect(target.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('reports a refused connection as connection', async () => {
    const closed = await startFakeReceiver();
    await closed.close();
    const result = await sender().send({ url: closed.url, headers, body });
    expect(result.responseStatus).toBeNull();
    expect(result.responseBody).toBeNull();
    expect(result.failure?.kind).toBe('connection');
    expect(result.failure?.message).toContain('ECONNREFUSED');
  });

  it('reports a socket reset before the answer as connection', async () => {
    const target = await receiver({ script: [{ reset: true }] });
    const result = await sender().send({ url: target.url, headers, body });
    expect(result).toMatchObject({ responseStatus: null, failure: { kind: 'connection' } });
  });

  it('reports a reset in the middle of the answer as connection', async () => {
    const target = await receiver({ script: [{ resetMidBody: true }] });
    const result = await sender().send({ url: target.url, headers, body });
    expect(result.failure?.kind).toBe('connection');
    expect(result.responseStatus).toBe(200);
  });

  it('gives up on a hanging receiver at the deadline with timeout', async () => {
    const target = await receiver({ script: [{ hang: true }] });
    const result = await sender({ timeoutMs: 300 }).send({ url: target.url, headers, body });
    expect(result.failure?.kind).toBe('timeout');
    expect(result.failure?.message).toContain('300 ms');
    expect(result.durationMs).toBeGreaterThanOrEqual(280);
    expect(result.durationMs).toBeLessThan(1_500);
  });

  it('counts the body in the deadline: an answer trickling past it is a timeout', async () => {
    const target = await receiver({ script: [{ trickle: { bytesPerSecond: 10, totalBytes: 100 } }] });
    const result = await sender({ timeoutMs: 500 }).send({ url: target.url, headers, body });
    expect(result.failure?.kind).toBe('timeout');
    expect(result.responseStatus).toBe(200);
    expect(result.durationMs).toBeLessThan(2_000);
  });

  it('reports a self-signed HTTPS receiver as tls', async () => {
    const target = await startTlsReceiver();
    receivers.push(target);
    const result = await sender().send({ url: target.url, headers, body });
    expect(result.failure?.kind).toBe('tls');
    expect(result.failure?.message).toMatch(/SELF_SIGNED|self-signed/i);
    expect(target.requests).toHaveLength(0);
  });

  it('reports an unresolvable host as dns', async () => {
    const result = await sender().send({ url: 'http://orbit-does-not-exist.invalid/', headers, body });
    expect(result.failure?.kind).toBe('dns');
    expect(result.failure?.message).toContain('orbit-does-not-exist.invalid');
  });

  it('keeps exactly 64 KiB of a 50 MiB answer without buffering the rest', async () => {
    const target = await receiver({ script: [{ bigBody: 50 * 1024 * 1024 }] });
    const rssBefore = process.memoryUsage().rss;
    const result = await sender().send({ url: target.url, headers, body });
    const growth = process.memoryUsage().rss - rssBefore;
    expect(result.failure).toBeNull();
    expect(result.responseStatus).toBe(200);
    expect(Buffer.byteLength(result.responseBody ?? '')).toBe(64 * 1024);
    expect(growth).toBeLessThan(20 * 1024 * 1024);
  });

  it('still returns when the receiver answers without reading a 1 MiB request body', async () => {
    const target = await receiver({ script: [{ ignoreBody: true, status: 200 }] });
    const result = await sender({ timeoutMs: 2_000 }).send({ url: target.url, headers, body: 'x'.repeat(1024 * 1024) });
    expect(result.durationMs).toBeLessThan(2_500);
    expect(result.responseStatus !== null || result.failure !== null).toBe(true);
    expect(target.requests).toHaveLength(1);
  });

  it('reports the caller aborting (worker shutting down) as connection, not timeout', async () => {
    const target = await receiver({ script: [{ hang: true }] });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const result = await sender({ timeoutMs: 5_000 }).send({ url: target.url, headers, body, signal: controller.signal });
    expect(result.failure).toEqual({ kind: 'connection', message: 'attempt aborted: worker shutting down' });
    expect(result.durationMs).toBeLessThan(1_000);
  });

  it('reuses connections and sends attempts concurrently', async () => {
    const target = await receiver({ script: [200] });
    const send = sender();
    const results = await Promise.all(Array.from({ length: 10 }, () => send.send({ url: target.url, headers, body })));
    expect(results.every((r: SendResult) => r.responseStatus === 200)).toBe(true);
    expect(target.requests).toHaveLength(10);
  });
});

describe('SSRF guard', () => {
  // Any socket or undici connection attempt while a blocked case runs is a failure of the guard.
  const connects: string[] = [];
  const onNet = (message: unknown): void => void connects.push(`net ${String(message)}`);
  const onUndici = (message: unknown): void => {
    const host = (message as { connectParams?: { hostname?: string } }).connectParams?.hostname;
    connects.push(`undici ${host ?? '?'}`);
  };
  beforeAll(() => {
    diagnostics.subscribe('net.client.socket', onNet);
    diagnostics.subscribe('undici:client:beforeConnect', onUndici);
  });
  afterAll(() => {
    diagnostics.unsubscribe('net.client.socket', onNet);
    diagnostics.unsubscribe('undici:client:beforeConnect', onUndici);
  });

  it.each([
    ['http://127.1/', 'a loopback address'],
    ['http://2130706433/', 'a loopback address'],
    ['http://0x7f000001/', 'a loopback address'],
    ['http://[::ffff:127.0.0.1]/', 'a loopback address'],
    ['http://[::1]/', 'a loopback address'],
    ['http://169.254.169.254/', 'a link-local address'],
    ['http://10.0.0.1/', 'a private-network address'],
    ['http://100.64.0.1/', 'a carrier-grade NAT (shared) address'],
    ['http://0.0.0.0/', 'an unspecified address (such as 0.0.0.0 or ::)'],
    ['http://[fc00::1]/', 'a unique-local (private IPv6) address'],
    ['http://[fe80::1]/', 'a link-local address'],
    ['http://[64:ff9b::7f00:1]/', 'a loopback address'],
    ['http://224.0.0.1/', 'a multicast address'],
    ['http://192.0.2.1/', 'a reserved address'],
  ])('refuses %s (%s) without connecting', async (url, range) => {
    connects.length = 0;
    const result = await sender({ allow: [] }).send({ url, headers, body });
    expect(result.failure?.kind).toBe('blocked');
    expect(result.failure?.message).toContain(` is ${range}; set ORBIT_ALLOW_PRIVATE_NETWORKS=`);
    expect(result.responseStatus).toBeNull();
    expect(connects).toEqual([]);
  });

  it('names the address, its range and the setting that allows it', async () => {
    const result = await sender({ allow: [] }).send({ url: 'http://10.1.2.3/', headers, body });
    expect(result.failure).toEqual({
      kind: 'blocked',
      message: 'address 10.1.2.3 is a private-network address; set ORBIT_ALLOW_PRIVATE_NETWORKS=10.1.2.3/32 to allow it',
    });
  });

  it('refuses a DNS name resolving to loopback, after resolution and before any TCP connection', async () => {
    const target = await receiver();
    let accepted = 0;
    const count = (): void => void accepted++;
    // The receiver's server sees every accepted TCP connection.
    const url = target.url.replace('127.0.0.1', 'localhost');
    diagnostics.subscribe('net.server.socket', count);
    try {
      const result = await sender({ allow: [] }).send({ url, headers, body });
      expect(result.failure?.kind).toBe('blocked');
      expect(result.failure?.message).toMatch(
        /^host localhost resolves to address (127\.0\.0\.1|::1), which is a loopback address; set ORBIT_ALLOW_PRIVATE_NETWORKS=/,
      );
    } finally {
      diagnostics.unsubscribe('net.server.socket', count);
    }
    expect(accepted).toBe(0);
    expect(target.requests).toHaveLength(0);
  });

  it('guards HTTPS connections too: localhost over TLS is refused before the handshake', async () => {
    const target = await startTlsReceiver();
    receivers.push(target);
    const url = target.url.replace('127.0.0.1', 'localhost');
    const result = await sender({ allow: [] }).send({ url, headers, body });
    expect(result.failure?.kind).toBe('blocked');
    expect(target.requests).toHaveLength(0);
  });

  it('delivers to localhost when loopback is allowed', async () => {
    const target = await receiver();
    const url = target.url.replace('127.0.0.1', 'localhost');
    const allow = parseCidrList('127.0.0.0/8,::1/128') as Cidr[];
    const result = await sender({ allow }).send({ url, headers, body });
    expect(result).toMatchObject({ responseStatus: 200, failure: null });
    expect(target.requests).toHaveLength(1);
  });

  it('refuses URLs that are not http(s) or not URLs at all', async () => {
    const send = sender({ allow: [] });
    expect((await send.send({ url: 'file:///etc/passwd', headers, body })).failure?.kind).toBe('blocked');
    expect((await send.send({ url: 'not a url', headers, body })).failure?.kind).toBe('blocked');
  });
});
