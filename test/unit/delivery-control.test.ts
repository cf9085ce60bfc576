import { describe, expect, it } from 'vitest';
import { formatRetrySchedule, parseRetrySchedule } from '../../src/domain/schedule.ts';
import { disabledReason, healthChanges } from '../../src/services/endpoint-health.ts';
import { orderViolations } from '../support/order-receiver.ts';

describe('a retry schedule of its own', () => {
  it('has the syntax and limits of ORBIT_RETRY_SCHEDULE, and prints back in the largest whole unit', () => {
    expect(parseRetrySchedule('500ms, 5s,1m,2h,1d')).toEqual([500, 5_000, 60_000, 7_200_000, 86_400_000]);
    expect(parseRetrySchedule('')).toEqual([]);
    expect(parseRetrySchedule('5 seconds')).toBeNull();
    expect(parseRetrySchedule('8d')).toBeNull();
    expect(parseRetrySchedule(Array.from({ length: 21 }, () => '1s').join(','))).toBeNull();
    expect(formatRetrySchedule([500, 5_000, 90_000, 7_200_000, 86_400_000])).toBe('500ms,5s,90s,2h,1d');
    expect(formatRetrySchedule([])).toBe('');
    expect(formatRetrySchedule([1_500])).toBe('1500ms');
  });
});

describe('the auto-disable clock', () => {
  const now = new Date('2026-02-18T12:00:00Z');
  const at = (msAgo: number): number => now.getTime() - msAgo;

  it('a success clears a running clock, a failure starts a stopped one, a failure past the limit is a crossing', () => {
    const changes = healthChanges(
      [
        { endpointId: 'ep_ok', succeeded: true, failingSinceMs: at(10) },
        { endpointId: 'ep_healthy', succeeded: true, failingSinceMs: null },
        { endpointId: 'ep_new', succeeded: false, failingSinceMs: null },
        { endpointId: 'ep_young', succeeded: false, failingSinceMs: at(999) },
        { endpointId: 'ep_old', succeeded: false, failingSinceMs: at(1_000) },
      ],
      now,
      1_000,
    );
    expect(changes).toEqual({ succeeded: ['ep_ok'], failed: ['ep_new', 'ep_young', 'ep_old'], crossing: ['ep_old'] });
  });

  it('a success and a failure of one endpoint in one batch: the success wins', () => {
    const changes = healthChanges(
      [
        { endpointId: 'ep_a', succeeded: false, failingSinceMs: at(5_000) },
        { endpointId: 'ep_a', succeeded: true, failingSinceMs: at(5_000) },
      ],
      now,
      1_000,
    );
    expect(changes).toEqual({ succeeded: ['ep_a'], failed: [], crossing: [] });
  });

  it('says why in words', () => {
    expect(disabledReason(5 * 86_400_000)).toBe('the endpoint was disabled after failing for 5 days');
    expect(disabledReason(1_000)).toBe('the endpoint was disabled after failing for 1 second');
    expect(disabledReason(90 * 60_000)).toBe('the endpoint was disabled after failing for 90 minutes');
  });
});

describe('the order-checking receiver', () => {
  it('tells an earlier message arriving after a later one, and forgives a repeat of the latest', () => {
    expect(
      orderViolations(
        ['a1', 'a1', 'b1', 'a2', 'b2', 'b2', 'a3'],
        [
          ['a1', 'a2', 'a3'],
          ['b1', 'b2'],
        ],
      ),
    ).toEqual([]);
    expect(orderViolations(['a1', 'a3', 'a2'], [['a1', 'a2', 'a3']])).toEqual(['a2 (#2) arrived after #3 of its sequence']);
    expect(orderViolations(['a1', 'a2', 'a1'], [['a1', 'a2']])).toHaveLength(1);
  });
});
