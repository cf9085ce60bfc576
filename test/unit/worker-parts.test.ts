/** The delivery worker's parts, each alone: slots per origin, the record batcher, the fetch policy, wake-ups, fair shares. */
import { describe, expect, it } from 'vitest';
import { wakeTargets } from '../../src/queue/delivery-queue.ts';
import { encodeWake, parseWake } from '../../src/queue/wake-channel.ts';
import { rankAmong, shareOf } from '../../src/worker/fair-share.ts';
import { planAfterFetch, waitBeforeFetch, MAX_BACKOFF_MS, MIN_BACKOFF_MS } from '../../src/worker/fetch-policy.ts';
import { NO_ORIGIN, OriginSlots } from '../../src/worker/origin-slots.ts';
import { createRecordBatcher, type Settlement } from '../../src/worker/record-batcher.ts';
import { createAlarm, createWaker } from '../../src/worker/wake.ts';

describe('OriginSlots', () => {
  it('runs at most the per-origin and the total cap, FIFO per origin, origins in turn', () => {
    const slots = new OriginSlots<string>({ running: 2, held: 4 });
    for (const item of ['a1', 'a2', 'a3']) slots.enqueue('https://a', item);
    for (const item of ['b1', 'b2']) slots.enqueue('https://b', item);
    expect(slots.take(3).map((taken) => taken.item)).toEqual(['a1', 'a2', 'b1']);
    expect(slots.take(10).map((taken) => taken.item)).toEqual(['b2']);
    slots.finished('https://a');
    expect(slots.take(10).map((taken) => taken.item)).toEqual(['a3']);
    expect(slots.running).toBe(4);
  });

  it('tells which origins hold their share of claims, and when a release frees one', () => {
    const slots = new OriginSlots<string>({ running: 1, held: 2 });
    slots.hold('https://a');
    expect(slots.saturated()).toEqual([]);
    slots.hold('https://a');
    slots.hold(NO_ORIGIN);
    slots.hold(NO_ORIGIN);
    slots.hold(NO_ORIGIN);
    // Jobs without an origin are never left out of a fetch.
    expect(slots.saturated()).toEqual(['https://a']);
    expect(slots.release('https://a')).toBe(true);
    expect(slots.release('https://a')).toBe(false);
    expect(slots.heldBy('https://a')).toBe(0);
  });

  it('follows a new share at once', () => {
    const slots = new OriginSlots<string>({ running: 4, held: 64 });
    for (let i = 0; i < 6; i++) slots.enqueue('https://a', `a${i}`);
    slots.limits = { running: 2, held: 32 };
    expect(slots.take(10)).toHaveLength(2);
  });

  it('hands back every waiting attempt when draining', () => {
    const slots = new OriginSlots<string>({ running: 1, held: 4 });
    for (const item of ['a1', 'a2', 'a3']) slots.enqueue('https://a', item);
    slots.enqueue('https://b', 'b1');
    slots.take(1);
    expect(slots.drainWaiting()).toEqual(['a2', 'a3', 'b1']);
    expect(slots.take(10)).toEqual([]);
  });
});

describe('createRecordBatcher', () => {
  const settlement = (id: number, result = true): Settlement<number, number> => ({
    claim: id,
    outcome: 'completed',
    result: result ? id : null,
  });

  it('records the attempts that end in one tick with one call, then settles them', async () => {
    const recorded: number[][] = [];
    const settled: number[][] = [];
    const batcher = createRecordBatcher<number, number>({
      record: async (results) => void recorded.push(results),
      settle: async (batch) => void settled.push(batch.map((each) => each.claim)),
      drop: () => undefined,
      abandoned: () => false,
      onRecordError: () => undefined,
    });
    batcher.add(settlement(1));
    batcher.add(settlement(2, false));
    batcher.add(settlement(3));
    await batcher.idle();
    expect(recorded).toEqual([[1, 3]]);
    expect(settled).toEqual([[1, 2, 3]]);
  });

  it('keeps trying a record that fails, and gives up only once the worker does', async () => {
    let failures = 3;
    let abandoned = false;
    const errors: number[] = [];
    const dropped: number[] = [];
    const settled: number[] = [];
    const tries: boolean[] = [];
    const batcher = createRecordBatcher<number, number>({
      record: async (_results, again) => {
        tries.push(again);
        if (failures-- > 0) throw new Error('database away');
      },
      settle: async (batch) => void settled.push(...batch.map((each) => each.claim)),
      drop: (batch) => void dropped.push(...batch.map((each) => each.claim)),
      abandoned: () => abandoned,
      onRecordError: (_error, tries) => void errors.push(tries),
      sleep: async () => undefined,
    });
    batcher.add(settlement(1));
    await batcher.idle();
    expect(errors).toEqual([0, 1, 2]);
    // A try after a failure says so: that failure's commit may have landed.
    expect(tries).toEqual([false, true, true, true]);
    expect(settled).toEqual([1]);

    failures = Number.POSITIVE_INFINITY;
    abandoned = true;
    batcher.add(settlement(2));
    await batcher.idle();
    expect(dropped).toEqual([2]);
    expect(settled).toEqual([1]);
  });

  it('records at most maxBatch rows per statement', async () => {
    const sizes: number[] = [];
    const batcher = createRecordBatcher<number, number>({
      record: async (results) => void sizes.push(results.length),
      settle: async () => undefined,
      drop: () => undefined,
      abandoned: () => false,
      onRecordError: () => undefined,
      maxBatch: 2,
    });
    for (let i = 0; i < 5; i++) batcher.add(settlement(i));
    await batcher.idle();
    expect(sizes).toEqual([2, 2, 1]);
  });
});

describe('fetch policy', () => {
  it('fetches again at once after a full fetch', () => {
    expect(planAfterFetch({ fetched: 200, room: 200, tookMs: 50, saturatedOrigins: 3 }).mode).toBe('now');
  });

  it('after a short fetch with a capped origin (or a slow one), backs off 5× the fetch time within bounds', () => {
    expect(planAfterFetch({ fetched: 3, room: 200, tookMs: 10, saturatedOrigins: 1 })).toEqual({
      mode: 'scan-prone',
      backoffMs: MIN_BACKOFF_MS,
    });
    expect(planAfterFetch({ fetched: 3, room: 200, tookMs: 80, saturatedOrigins: 0 })).toEqual({ mode: 'scan-prone', backoffMs: 400 });
    expect(planAfterFetch({ fetched: 0, room: 200, tookMs: 900, saturatedOrigins: 1 }).backoffMs).toBe(MAX_BACKOFF_MS);
  });

  it('after a short, fast fetch, waits for a wake or the poll', () => {
    const plan = planAfterFetch({ fetched: 3, room: 200, tookMs: 2, saturatedOrigins: 0 });
    expect(plan.mode).toBe('on-wake');
    expect(waitBeforeFetch(plan, 0, 1_000)).toEqual({ urgentOnlyMs: 0, anyWakeMs: 1_000 });
  });

  it('a back-off counts from the last fetch; only an urgent wake ends it early', () => {
    expect(waitBeforeFetch({ mode: 'scan-prone', backoffMs: 300 }, 100, 1_000)).toEqual({ urgentOnlyMs: 200, anyWakeMs: 900 });
    expect(waitBeforeFetch({ mode: 'scan-prone', backoffMs: 300 }, 2_000, 1_000)).toEqual({ urgentOnlyMs: 0, anyWakeMs: 0 });
    expect(waitBeforeFetch({ mode: 'now', backoffMs: 300 }, 0, 1_000)).toEqual({ urgentOnlyMs: 0, anyWakeMs: 0 });
  });
});

describe('wake-ups', () => {
  it('a wake ends a sleep, unless the sleep waits for urgent wakes only', async () => {
    const waker = createWaker();
    const started = performance.now();
    const sleeping = waker.sleep(5_000);
    waker.wake();
    await sleeping;
    expect(performance.now() - started).toBeLessThan(1_000);
    waker.clear();
    const urgentOnly = waker.sleep(60, true);
    waker.wake();
    const before = performance.now();
    await urgentOnly;
    expect(performance.now() - before).toBeGreaterThanOrEqual(40);
    expect(waker.woken).toBe(true);
    expect(waker.urgent).toBe(false);
  });

  it('a wake that came before the sleep is not lost', async () => {
    const waker = createWaker();
    waker.wake(true);
    const started = performance.now();
    await waker.sleep(5_000, true);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('the alarm rings once, at the earliest time asked', async () => {
    let rings = 0;
    const alarm = createAlarm(() => rings++);
    const now = new Date();
    alarm.at(new Date(now.getTime() + 5_000), now);
    alarm.at(new Date(now.getTime() + 10), now);
    alarm.at(new Date(now.getTime() + 2_000), now);
    await expect.poll(() => rings, { timeout: 1_000 }).toBe(1);
    alarm.cancel();
  });

  it("a wake notice names the queue and the new jobs' origins, and survives the trip", () => {
    const targets = wakeTargets([
      { messageId: 'msg_a', endpointId: 'ep_a', step: 1, trigger: 'scheduled', url: 'https://a.example/x' },
      { messageId: 'msg_b', endpointId: 'ep_b', step: 1, trigger: 'scheduled', url: 'https://a.example/y' },
      { messageId: 'msg_c', endpointId: 'ep_c', step: 3, trigger: 'scheduled', url: 'https://c.example/' },
      { messageId: 'msg_d', endpointId: 'ep_d', step: 0, trigger: 'manual' },
    ]);
    expect([...targets.entries()].map(([queue, origins]) => [queue, origins === null ? null : [...origins]])).toEqual([
      // A job without a URL makes the notice "any origin".
      ['orbit-delivery', null],
      ['orbit-delivery-retry', ['https://c.example']],
    ]);
    expect(parseWake(encodeWake({ queue: 'orbit-delivery', origins: ['https://a.example'] }))).toEqual({
      queue: 'orbit-delivery',
      origins: ['https://a.example'],
    });
    const many = Array.from({ length: 1_000 }, (_, i) => `https://receiver-${i}.example`);
    expect(parseWake(encodeWake({ queue: 'q', origins: many }))).toEqual({ queue: 'q', origins: null });
    expect(parseWake('not json')).toBeNull();
    expect(parseWake('{"queue":1}')).toBeNull();
  });
});

describe("fair shares of an origin's cap", () => {
  it('splits the cap across workers exactly, the remainder to the first ranks', () => {
    expect([0].map((rank) => shareOf(32, 1, rank))).toEqual([32]);
    expect([0, 1].map((rank) => shareOf(32, 2, rank))).toEqual([16, 16]);
    const three = [0, 1, 2].map((rank) => shareOf(32, 3, rank));
    expect(three).toEqual([11, 11, 10]);
    expect(three.reduce((a, b) => a + b)).toBe(32);
    // More workers than the cap: one each.
    expect(shareOf(2, 4, 3)).toBe(1);
  });

  it('ranks a worker among the live ones, counting itself even before its registry row appears', () => {
    const peers = [
      { id: 'c', live: true },
      { id: 'a', live: true },
      { id: 'b', live: false },
    ];
    expect(rankAmong(peers, 'c')).toEqual({ peers: 2, rank: 1 });
    expect(rankAmong(peers, 'z')).toEqual({ peers: 3, rank: 2 });
    expect(rankAmong([], null)).toEqual({ peers: 1, rank: 0 });
  });
});
