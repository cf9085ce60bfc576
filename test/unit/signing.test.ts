import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateSigningSecret, normaliseSigningSecret, parseSigningSecret, signPayload } from '../../src/domain/signing.ts';

interface Vectors {
  sign: Array<{ name: string; secrets: string[]; id: string; timestamp: string; body: string; signature: string }>;
  secrets: { valid: string[]; invalid: string[] };
}

// The project's copy of the signing vectors receivers' SDKs agree on.
const vectors = JSON.parse(readFileSync(new URL('../fixtures/signatures.json', import.meta.url), 'utf8')) as Vectors;

describe('signing', () => {
  it.each(vectors.sign.map((vector) => [vector.name, vector] as const))('reproduces the vector %s byte for byte', (_name, vector) => {
    expect(signPayload(vector.secrets, vector.id, vector.timestamp, vector.body)).toBe(vector.signature);
  });

  it('takes a numeric timestamp the same as its text', () => {
    const [vector] = vectors.sign;
    if (!vector) throw new Error('no vectors');
    expect(signPayload(vector.secrets, vector.id, Number(vector.timestamp), vector.body)).toBe(vector.signature);
  });

  it.each(vectors.secrets.valid)('accepts the secret %s', (secret) => {
    expect(parseSigningSecret(secret)).not.toBeNull();
  });

  it.each(vectors.secrets.invalid)('refuses the secret %j', (secret) => {
    expect(parseSigningSecret(secret)).toBeNull();
  });

  it('generates whsec_ secrets of 32 bytes in standard base64, each different', () => {
    const a = generateSigningSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(parseSigningSecret(a)?.length).toBe(32);
    expect(generateSigningSecret()).not.toBe(a);
  });

  it('stores a secret given without its prefix in the whsec_ form', () => {
    expect(normaliseSigningSecret('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBe('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(normaliseSigningSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBe('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  });
});
