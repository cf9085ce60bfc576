import { describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { deliveryJobId, parseDeliveryJob } from '../../src/queue/delivery-queue.ts';
import { deliveryQueueOptions } from '../../src/queue/boss.ts';
import { deliveryHeaders } from '../../src/services/delivery.ts';

describe('deliveryHeaders', () => {
  it('carries the svix and standard-webhooks trios with equal values, the user-agent and custom headers', () => {
    const headers = deliveryHeaders({ 'X-Team': 'growth' }, 'msg_1', 1_700_000_000, 'v1,abc v1,def');
    expect(headers).toEqual({
      'content-type': 'application/json',
      'user-agent': `Orbit/${pkg.version}`,
      'X-Team': 'growth',
      'svix-id': 'msg_1',
      'svix-timestamp': '1700000000',
      'svix-signature': 'v1,abc v1,def',
      'webhook-id': 'msg_1',
      'webhook-timestamp': '1700000000',
      'webhook-signature': 'v1,abc v1,def',
    });
  });

  it('never lets a custom header replace one the engine owns, whatever its case', () => {
    const headers = deliveryHeaders({ 'Svix-Id': 'forged', 'Content-Type': 'text/plain', 'User-Agent': 'x' }, 'msg_1', 1, 'v1,a');
    expect(Object.keys(headers).filter((name) => /svix-id|content-type|user-agent/i.test(name))).toEqual([
      'content-type',
      'user-agent',
      'svix-id',
    ]);
    expect(headers['svix-id']).toBe('msg_1');
  });
});

describe('delivery jobs', () => {
  it('derive a deterministic id for scheduled steps only', () => {
    const job = { messageId: 'msg_1', step: 2, trigger: 'scheduled' as const };
    expect(deliveryJobId(job)).toBe(deliveryJobId({ ...job }));
    expect(deliveryJobId(job)).not.toBe(deliveryJobId({ ...job, step: 3 }));
    expect(deliveryJobId(job)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deliveryJobId({ ...job, step: 0, trigger: 'manual' })).toBeUndefined();
  });

  it('parse only well-formed job data', () => {
    expect(parseDeliveryJob({ messageId: 'm', step: 1, trigger: 'scheduled' })).toEqual({ messageId: 'm', step: 1, trigger: 'scheduled' });
    for (const bad of [null, 'x', {}, { messageId: 'm', step: 1.5, trigger: 'scheduled' }, { messageId: 'm', step: 1, trigger: 'other' }]) {
      expect(parseDeliveryJob(bad)).toBeNull();
    }
  });

  it('keep pg-boss expiry well above the delivery deadline, also for jobs held behind a capped origin', () => {
    // 17 deadlines (16 rounds of the origin's attempts held locally, then its own) and a minute.
    expect(deliveryQueueOptions({ deliveryTimeoutMs: 30_000 }).expireInSeconds).toBe(570);
    expect(deliveryQueueOptions({ deliveryTimeoutMs: 300_000 }).expireInSeconds).toBe(5160);
  });
});
