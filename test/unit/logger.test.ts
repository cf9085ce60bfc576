/**
 * The redaction every log line goes through (src/lib/logger.ts). The logger's own lines are checked
 * end to end in test/integration/secrets.test.ts; these are the walk's edges.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactCredentials } from '../../src/lib/logger.ts';

const TOKEN = 'token-that-must-not-appear';

describe('redactCredentials', () => {
  it('hands back the same object, uncopied, when there is nothing to redact', () => {
    const fields = { tenantId: 'ten_1', attempt: 2, status: 204, nested: { url: 'https://example.com', list: [1, 'two'] } };
    expect(redactCredentials(fields)).toBe(fields);
  });

  it('redacts credential keys at any depth and in any letter case, without touching the input', () => {
    const fields = {
      Authorization: `Bearer ${TOKEN}`,
      a: { b: { c: { d: { PASSWORD: TOKEN, kept: 'visible' } } } },
      endpoints: [{ url: 'https://example.com', secret: TOKEN }],
      headers: { 'X-API-KEY': TOKEN, 'content-type': 'application/json' },
    };
    const before = JSON.stringify(fields);
    const redacted = redactCredentials(fields);
    expect(JSON.stringify(redacted)).not.toContain(TOKEN);
    expect(redacted).toEqual({
      Authorization: '[redacted]',
      a: { b: { c: { d: { PASSWORD: '[redacted]', kept: 'visible' } } } },
      endpoints: [{ url: 'https://example.com', secret: '[redacted]' }],
      headers: { 'X-API-KEY': '[redacted]', 'content-type': 'application/json' },
    });
    expect(JSON.stringify(fields)).toBe(before);
  });

  it("redacts every value of a webhook's custom headers, whatever their names, and of customHeaders", () => {
    const redacted = redactCredentials({
      run: { webhook: { url: 'https://example.com', headers: { 'X-Team': TOKEN, list: [TOKEN] } } },
      customHeaders: { 'X-Other': TOKEN },
      request: { headers: { 'x-request-id': 'req_1' } },
    });
    expect(redacted).toEqual({
      run: { webhook: { url: 'https://example.com', headers: { 'X-Team': '[redacted]', list: '[redacted]' } } },
      customHeaders: { 'X-Other': '[redacted]' },
      // Request headers are not a webhook's: only their credential names go.
      request: { headers: { 'x-request-id': 'req_1' } },
    });
  });

  it('leaves errors, dates and buffers to their serialisers', () => {
    const error = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    const at = new Date(0);
    const fields = { err: error, at, body: Buffer.from('x') };
    const redacted = redactCredentials(fields);
    expect(redacted.err).toBe(error);
    expect(redacted.at).toBe(at);
  });

  it('stops at a cycle instead of walking it forever', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    expect(() => redactCredentials(cyclic)).not.toThrow();
  });
});

describe('a log line', () => {
  it("keeps an error's message and code, and drops a credential of a child logger's bindings", () => {
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString('utf8'));
          done();
        },
      }),
    ).child({ role: 'api', apiKey: TOKEN });
    logger.warn({ err: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) }, 'send failed');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(TOKEN);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      role: 'api',
      apiKey: '[redacted]',
      err: { message: 'refused', code: 'ECONNREFUSED' },
      msg: 'send failed',
    });
  });
});
