/**
 * The pure parts of the process life cycle: `orbit serve`'s process counts, the banner's address,
 * what a log line keeps of an error, and the one-line-per-interval filter.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { repeatFilter, serializeError } from '../../src/lib/logger.ts';
import { describeAddress, describeError } from '../../src/process/output.ts';
import { defaultProcessCounts } from '../../src/process/supervisor.ts';

describe('ORBIT_API_PROCESSES and ORBIT_WORKER_PROCESSES', () => {
  it('are unset by default (derived from the cores) and accept 1..64 and 0..64', () => {
    const config = loadConfig({});
    expect(config.apiProcesses).toBeUndefined();
    expect(config.workerProcesses).toBeUndefined();
    expect(loadConfig({ ORBIT_API_PROCESSES: '3', ORBIT_WORKER_PROCESSES: '64' })).toMatchObject({ apiProcesses: 3, workerProcesses: 64 });
    expect(loadConfig({ ORBIT_WORKER_PROCESSES: '0', DATABASE_URL: 'postgres://x@db/orbit' }).workerProcesses).toBe(0);
  });

  it.each([
    ['ORBIT_API_PROCESSES', '0'],
    ['ORBIT_API_PROCESSES', '65'],
    ['ORBIT_API_PROCESSES', 'two'],
    ['ORBIT_WORKER_PROCESSES', '65'],
    ['ORBIT_WORKER_PROCESSES', '-1'],
  ])('%s=%s is refused with what is accepted', (variable, value) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [variable]: value })).toThrow(
      new RegExp(`^invalid configuration: ${variable}="${value}": expected an integer from`),
    );
  });

  it('0 delivery workers needs DATABASE_URL: with the embedded database nothing else could deliver', () => {
    expect(() => loadConfig({ ORBIT_WORKER_PROCESSES: '0' })).toThrow(
      /ORBIT_WORKER_PROCESSES="0": expected .*0 only with DATABASE_URL set/,
    );
  });
});

describe('defaultProcessCounts', () => {
  it.each([
    [1, { api: 1, worker: 1 }],
    [2, { api: 1, worker: 1 }],
    [3, { api: 1, worker: 2 }],
    [4, { api: 2, worker: 2 }],
    [8, { api: 4, worker: 4 }],
    [256, { api: 64, worker: 64 }],
  ])('%i cores: %o', (cores, counts) => {
    expect(defaultProcessCounts(cores)).toEqual(counts);
  });
});

describe('describeAddress (the start banner)', () => {
  it('shows the address as bound, and says when it is every interface', () => {
    expect(describeAddress({ address: '127.0.0.1', port: 41234 })).toBe('http://127.0.0.1:41234');
    expect(describeAddress({ address: '::1', port: 3000 })).toBe('http://[::1]:3000');
    expect(describeAddress({ address: '0.0.0.0', port: 3000 })).toBe('http://0.0.0.0:3000 (all interfaces; open http://localhost:3000)');
    expect(describeAddress({ address: '::', port: 3000 })).toBe('http://[::]:3000 (all interfaces; open http://localhost:3000)');
  });
});

describe('errors in log lines', () => {
  class DriverError extends Error {
    code = '57P01';
    // What drivers hang on their errors: the whole client, kilobytes of it.
    client = { config: { password: 'hunter2', host: 'db' }, socket: { buffer: 'x'.repeat(5_000) } };
  }

  it('keep type, message and code (and their causes), never the other properties', () => {
    const error = new Error('pg-boss could not fetch', { cause: new DriverError('terminating connection') });
    const line = JSON.stringify(serializeError(error));
    expect(JSON.parse(line)).toEqual({
      type: 'Error',
      message: 'pg-boss could not fetch',
      cause: { type: 'Error', message: 'terminating connection', code: '57P01' },
    });
    expect(line.length).toBeLessThan(300);
  });

  it('keep a short stack at debug only', () => {
    const withStack = serializeError(new DriverError('x'), true) as { stack: string };
    expect(withStack.stack.split('\n').length).toBeLessThanOrEqual(7);
    expect(serializeError(new DriverError('x'))).not.toHaveProperty('stack');
  });

  it('say something for errors without a message (a refused connection to every address of a host)', () => {
    const refused = Object.assign(
      new AggregateError([new Error('connect ECONNREFUSED ::1:5432'), new Error('connect ECONNREFUSED 127.0.0.1:5432')]),
      {
        code: 'ECONNREFUSED',
      },
    );
    expect(serializeError(refused)).toMatchObject({
      message: 'connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432',
      code: 'ECONNREFUSED',
    });
    expect(describeError(refused)).toBe('connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432');
  });
});

describe('repeatFilter', () => {
  it('logs the first occurrence, then one line per interval with the count held back, the interval doubling', () => {
    let now = 0;
    const filter = repeatFilter({ firstMs: 10_000, maxMs: 40_000, now: () => now });
    const logged: [number, number][] = [];
    // The same trouble once a second for two minutes.
    for (now = 0; now <= 120_000; now += 1_000) {
      const { log, suppressed } = filter.admit('ECONNREFUSED');
      if (log) logged.push([now / 1000, suppressed]);
    }
    expect(logged).toEqual([
      [0, 0],
      [10, 9],
      [30, 19],
      [70, 39],
      [110, 39],
    ]);
    // Other trouble has its own interval; after a quiet spell the count starts over.
    expect(filter.admit('57P01').log).toBe(true);
    now += 200_000;
    expect(filter.admit('ECONNREFUSED')).toEqual({ log: true, suppressed: 0 });
  });
});
