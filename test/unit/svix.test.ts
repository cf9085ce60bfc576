import { describe, expect, it } from 'vitest';
import {
  attemptStatus,
  deliveryStatus,
  deliveryStatusFilter,
  listOut,
  nestsDeeperThan,
  schemaExample,
  splitSensitiveHeaders,
  statusCodeClass,
  triggerType,
  uidProblem,
  type ListPage,
} from '../../src/domain/svix.ts';

describe('uids', () => {
  it('are limited strings that never look like ids', () => {
    expect(uidProblem('acme-corp_1.eu', 'app')).toBeNull();
    expect(uidProblem('app_123', 'app')).toMatch(/app_/);
    expect(uidProblem('ep_123', 'app')).toBeNull();
    for (const bad of ['', 'has space', 'a/b', 'x'.repeat(257), 'ünï']) expect(uidProblem(bad, 'app')).not.toBeNull();
  });
});

describe("Svix's status numbers", () => {
  it('map attempts, deliveries and triggers', () => {
    expect(attemptStatus('succeeded')).toEqual({ status: 0, statusText: 'success' });
    expect(attemptStatus('failed')).toEqual({ status: 2, statusText: 'fail' });
    expect(deliveryStatus('pending', 0)).toEqual({ status: 1, statusText: 'pending' });
    expect(deliveryStatus('pending', 2)).toEqual({ status: 3, statusText: 'sending' });
    expect(deliveryStatus('failed', 6)).toEqual({ status: 2, statusText: 'fail' });
    expect(deliveryStatus('succeeded', 1)).toEqual({ status: 0, statusText: 'success' });
    expect(deliveryStatusFilter(3)).toEqual({ status: 'pending', attempted: true });
    expect(deliveryStatusFilter(4)).toBeNull();
    expect([triggerType('scheduled'), triggerType('recover'), triggerType('manual')]).toEqual([0, 0, 1]);
    expect([0, 100, 200, 500, 250, 600].map(statusCodeClass)).toEqual([0, 1, 2, 5, null, null]);
  });
});

describe('list answers', () => {
  const page = (over: Partial<ListPage>): ListPage => ({ limit: 2, iterator: null, previous: false, ascending: true, ...over });
  const key = (row: string) => row;

  it('say done when no row is left, and give the first and last keys', () => {
    expect(listOut(['a', 'b', 'c'], page({}), key, key)).toEqual({ data: ['a', 'b'], iterator: 'b', prevIterator: '-a', done: false });
    expect(listOut(['a'], page({}), key, key)).toEqual({ data: ['a'], iterator: 'a', prevIterator: '-a', done: true });
    expect(listOut([], page({}), key, key)).toEqual({ data: [], iterator: null, prevIterator: null, done: true });
  });

  it('read a previous page backwards and answer it in the list order', () => {
    expect(listOut(['d', 'c', 'b'], page({ previous: true }), key, key)).toEqual({
      data: ['c', 'd'],
      iterator: 'd',
      prevIterator: '-c',
      done: false,
    });
  });
});

describe('examples and payloads', () => {
  it("take the schema's examples, else its example, else none", () => {
    expect(schemaExample({ '1': { examples: [{ a: 1 }, { b: 2 }] } })).toBe('{"a":1}');
    expect(schemaExample({ '1': { examples: [{ a: 1 }, { b: 2 }] } }, 1)).toBe('{"b":2}');
    expect(schemaExample({ '1': { examples: [{ a: 1 }] } }, 5)).toBe('{"a":1}');
    expect(schemaExample({ '2': { example: { c: 3 } } })).toBe('{"c":3}');
    expect(schemaExample({ '1': { examples: ['not an object'] } })).toBeNull();
    expect(schemaExample(null)).toBeNull();
  });

  it('measures nesting without recursion', () => {
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(nestsDeeperThan(deep, 128)).toBe(true);
    expect(nestsDeeperThan({ a: { b: [1, { c: null }] } }, 4)).toBe(false);
    expect(nestsDeeperThan({ a: { b: [1, { c: {} }] } }, 4)).toBe(true);
  });

  it('hides sensitive header values', () => {
    expect(splitSensitiveHeaders({ Authorization: 'x', 'X-Team': 'a', 'x-api-key': 'k' })).toEqual({
      headers: { 'X-Team': 'a' },
      sensitive: ['Authorization', 'x-api-key'],
    });
  });
});
