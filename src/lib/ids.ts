import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(bytes: Uint8Array, length: number): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let out = '';
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(value % 62n)] + out;
    value /= 62n;
  }
  return out;
}

let lastMs = 0;
let sequence = 0;

/**
 * Time-ordered ids: 8 base62 characters of milliseconds, then 14 random ones. Sorting ids sorts by
 * creation time, so lists page by id alone. Within one millisecond a process-local sequence keeps
 * its own ids ordered.
 */
export function newId(prefix: string, now: number = Date.now()): string {
  if (now <= lastMs) {
    sequence++;
    now = lastMs;
  } else {
    lastMs = now;
    sequence = 0;
  }
  const time = new Uint8Array(8);
  new DataView(time.buffer).setBigUint64(0, BigInt(now) * 1024n + BigInt(sequence % 1024));
  return `${prefix}_${base62(time, 10)}${base62(randomBytes(10), 13)}`;
}

/** A UUID derived from a name: the same name always gives the same UUID (pg-boss job ids). */
export function uuidFromName(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  const variant = ((parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}
