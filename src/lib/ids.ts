import { createHash, randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// Random bytes drawn in bulk: one system call per 4 KiB instead of one per id.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomByte(): number {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++] as number;
}

/** `length` uniformly random base62 characters (bytes of 248 and above are redrawn: no bias). */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    if (byte < 248) out += ALPHABET[byte % 62];
  }
  return out;
}

/** A non-negative integer below 2^53 as exactly `length` base62 characters. */
function base62(value: number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    out = ALPHABET[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

let lastMs = 0;
let sequence = 0;

/**
 * Time-ordered ids: 10 base62 characters of (milliseconds × 1024 + a per-process sequence), then
 * 13 random ones (77 bits). Sorting ids sorts by creation time, so lists page by id alone; within
 * one millisecond the sequence keeps this process's ids ordered.
 */
export function newId(prefix: string, now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    sequence = 0;
  } else if (++sequence === 1024) {
    // More than 1,024 ids in one millisecond: borrow the next one, so the order still holds.
    lastMs++;
    sequence = 0;
  }
  return `${prefix}_${base62(lastMs * 1024 + sequence, 10)}${randomBase62(13)}`;
}

/** What `newId(prefix)` makes: the prefix, `_`, and 23 base62 characters. */
export function idPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}_[0-9A-Za-z]{23}$`);
}

/** A UUID derived from a name: the same name always gives the same UUID (pg-boss job ids). */
export function uuidFromName(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  const variant = ((parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function randomToken(bytes: number): string {
  const buffer = Buffer.alloc(bytes);
  randomFillSync(buffer);
  return buffer.toString('base64url');
}
