import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

const PREFIX = 'whsec_';
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a signing secret (`whsec_` + standard base64 of 24..64 bytes; the prefix is optional).
 * Null for anything else: base64url secrets would make receivers' SDKs fail most verifications.
 */
export function parseSigningSecret(secret: string): Buffer | null {
  const encoded = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  if (encoded === '' || !STANDARD_BASE64.test(encoded)) return null;
  const key = Buffer.from(encoded, 'base64');
  return key.length >= 24 && key.length <= 64 ? key : null;
}

export const SIGNING_SECRET_RULE = 'whsec_ followed by standard base64 (not base64url) of 24 to 64 bytes';

export function generateSigningSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

/** Normalises a secret to its `whsec_` form, so it is stored and shown one way. */
export function normaliseSigningSecret(secret: string): string {
  return secret.startsWith(PREFIX) ? secret : PREFIX + secret;
}

// Building a KeyObject once per secret is several times faster than passing raw bytes per sign.
const keyCache = new Map<string, KeyObject>();

function keyFor(secret: string): KeyObject {
  let key = keyCache.get(secret);
  if (!key) {
    const bytes = parseSigningSecret(secret);
    if (!bytes) throw new Error('invalid signing secret');
    key = createSecretKey(bytes);
    if (keyCache.size > 10_000) keyCache.clear();
    keyCache.set(secret, key);
  }
  return key;
}

/**
 * The `svix-signature` / `webhook-signature` value: one `v1,<base64 HMAC-SHA256>` entry per secret,
 * in the order given (newest first), separated by single spaces.
 */
export function signPayload(secrets: readonly string[], id: string, timestamp: number | string, body: string): string {
  const signed = `${id}.${timestamp}.${body}`;
  return secrets.map((secret) => `v1,${createHmac('sha256', keyFor(secret)).update(signed, 'utf8').digest('base64')}`).join(' ');
}
