import { describe, expect, it } from 'vitest';
import { nextRetryDelay, parseRetryAfter, type RetryDelayInput } from '../../src/domain/schedule.ts';
import { parseDurationList } from '../../src/lib/durations.ts';

const NOW = new Date('2026-02-18T12:00:00.000Z');
const DEFAULT_LADDER = parseDurationList('5s,5m,30m,2h,8h') as number[];

function input(overrides: Partial<RetryDelayInput>): RetryDelayInput {
  return {
    attempt: 1,
    schedule: DEFAULT_LADDER,
    jitter: 0,
    random: () => 0.5,
    responseStatus: 500,
    retryAfter: null,
    now: NOW,
    ...overrides,
  };
}

describe('nextRetryDelay', () => {
  it('walks the default ladder exactly with jitter 0: six attempts in all, then none', () => {
    // Attempt 1 is immediate; each later attempt waits the delay returned after the previous one.
    const delays: (number | null)[] = [];
    for (let attempt = 1; attempt <= 7; attempt++) delays.push(nextRetryDelay(input({ attempt })));
    expect(delays).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 28_800_000, null, null]);
    expect(delays.filter((delay) => delay !== null)).toHaveLength(5);
  });

  it('keeps jittered delays inside [1-j, 1+j] of the scheduled one', () => {
    expect(nextRetryDelay(input({ jitter: 0.1, random: () => 0 }))).toBe(4_500);
    expect(nextRetryDelay(input({ jitter: 0.1, random: () => 0.999999 }))).toBe(5_500);
    expect(nextRetryDelay(input({ jitter: 0.1, random: () => 0.5 }))).toBe(5_000);
    expect(nextRetryDelay(input({ attempt: 5, jitter: 0.25, random: () => 0 }))).toBe(21_600_000);
    for (let i = 0; i < 200; i++) {
      const delay = nextRetryDelay(input({ attempt: 2, jitter: 0.1, random: Math.random })) as number;
      expect(delay).toBeGreaterThanOrEqual(270_000);
      expect(delay).toBeLessThanOrEqual(330_000);
    }
  });

  it('lengthens the delay with Retry-After in seconds, up to twice the scheduled delay', () => {
    expect(nextRetryDelay(input({ retryAfter: '7' }))).toBe(7_000);
    expect(nextRetryDelay(input({ retryAfter: '10' }))).toBe(10_000);
    expect(nextRetryDelay(input({ retryAfter: '3600' }))).toBe(10_000);
  });

  it('lengthens the delay with a Retry-After HTTP date relative to now, capped at twice', () => {
    expect(nextRetryDelay(input({ retryAfter: 'Wed, 18 Feb 2026 12:00:08 GMT' }))).toBe(8_000);
    expect(nextRetryDelay(input({ retryAfter: 'Thu, 19 Feb 2026 12:00:00 GMT' }))).toBe(10_000);
  });

  it('never shortens the delay with Retry-After', () => {
    expect(nextRetryDelay(input({ retryAfter: '1' }))).toBe(5_000);
    expect(nextRetryDelay(input({ retryAfter: '0' }))).toBe(5_000);
    expect(nextRetryDelay(input({ retryAfter: 'Wed, 18 Feb 2026 11:00:00 GMT' }))).toBe(5_000);
    // Jitter drew a longer delay than the hint: the jittered delay stands.
    expect(nextRetryDelay(input({ jitter: 0.1, random: () => 0.999999, retryAfter: '5' }))).toBe(5_500);
  });

  it('ignores invalid or negative Retry-After values', () => {
    for (const retryAfter of ['-5', 'soon', '1.5', '', '   ', 'Foo, 99 Bar 2026 nonsense']) {
      expect(nextRetryDelay(input({ retryAfter }))).toBe(5_000);
    }
  });

  it('stops at once on 410 Gone, whatever the ladder', () => {
    expect(nextRetryDelay(input({ responseStatus: 410 }))).toBeNull();
    expect(nextRetryDelay(input({ responseStatus: 410, retryAfter: '60' }))).toBeNull();
  });

  it('has no retry after attempt 1 when the schedule is empty', () => {
    expect(nextRetryDelay(input({ schedule: [] }))).toBeNull();
  });

  it('supports millisecond ladders for end-to-end tests', () => {
    const schedule = parseDurationList('50ms,100ms') as number[];
    expect([1, 2, 3].map((attempt) => nextRetryDelay(input({ attempt, schedule })))).toEqual([50, 100, null]);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta seconds and HTTP dates, and nothing else', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 2 ', NOW)).toBe(2_000);
    expect(parseRetryAfter('Wed, 18 Feb 2026 12:01:00 GMT', NOW)).toBe(60_000);
    expect(parseRetryAfter(null, NOW)).toBeNull();
    expect(parseRetryAfter('-1', NOW)).toBeNull();
    expect(parseRetryAfter('2026-02-18T13:00:00Z', NOW)).toBeNull();
  });
});
