import { describe, expect, it } from 'vitest';
import { classifyAttempt } from '../../src/domain/outcome.ts';

describe('classifyAttempt', () => {
  it.each([200, 201, 204, 299])('a %i answer is a success', (status) => {
    expect(classifyAttempt({ responseStatus: status, failure: null })).toEqual({ outcome: 'succeeded', error: null });
  });

  it.each([301, 302, 307, 308])('a %i answer is a redirect, not followed', (status) => {
    const result = classifyAttempt({ responseStatus: status, failure: null });
    expect(result.outcome).toBe('failed');
    expect(result.error?.kind).toBe('redirect');
    expect(result.error?.message).toContain(String(status));
    expect(result.error?.message).toContain('not followed');
  });

  it.each([100, 400, 404, 410, 429, 500, 503])('a %i answer is an http_status failure', (status) => {
    expect(classifyAttempt({ responseStatus: status, failure: null })).toEqual({
      outcome: 'failed',
      error: { kind: 'http_status', message: `receiver answered ${status}` },
    });
  });

  it.each(['timeout', 'connection', 'dns', 'tls', 'blocked'] as const)('a %s failure is passed through', (kind) => {
    expect(classifyAttempt({ responseStatus: null, failure: { kind, message: 'why' } })).toEqual({
      outcome: 'failed',
      error: { kind, message: 'why' },
    });
  });

  it('a failure after a 2xx status line (body cut or too slow) is still a failure', () => {
    const result = classifyAttempt({ responseStatus: 200, failure: { kind: 'timeout', message: 'deadline' } });
    expect(result).toEqual({ outcome: 'failed', error: { kind: 'timeout', message: 'deadline' } });
  });
});
