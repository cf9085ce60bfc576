import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memberText } from '../../src/domain/json-text.ts';

describe('memberText', () => {
  it('keeps the value byte for byte: spacing, key order, number spelling, escapes', () => {
    const payload = '{ "b": 1.0, "a": [1e3, "x\\"}y", {"10": true, "2": null}],\n  "é": "\\u00e9" }';
    const body = `{"eventType":"user.created","payload":${payload},"channels":["c"]}`;
    expect(memberText(body, 'payload')).toBe(payload);
    expect(memberText(body, 'eventType')).toBe('"user.created"');
    expect(memberText(body, 'channels')).toBe('["c"]');
    expect(memberText(body, 'missing')).toBeNull();
  });

  it('ignores nested members of the same name, and the last duplicate wins as in JSON.parse', () => {
    expect(memberText('{"x":{"payload":1},"payload":2}', 'payload')).toBe('2');
    expect(memberText('{"payload":1,"payload":{"k":3}}', 'payload')).toBe('{"k":3}');
    expect(memberText(' \n{ }', 'payload')).toBeNull();
    expect(memberText('[1]', 'payload')).toBeNull();
  });

  it('finds what JSON.parse finds, for any object', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue(), fc.boolean(), (rest, value, spaced) => {
        const object = { ...rest, payload: value };
        const text = spaced ? JSON.stringify(object, null, 2) : JSON.stringify(object);
        const found = memberText(text, 'payload');
        expect(found).not.toBeNull();
        expect(JSON.parse(found as string)).toEqual(JSON.parse(text).payload);
      }),
    );
  });
});
