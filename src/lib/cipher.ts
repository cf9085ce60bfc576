import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const PREFIX = 'enc:v1:';

/**
 * Encrypts secrets at rest with AES-256-GCM when a key is configured; without one, values pass
 * through unchanged. Decrypting accepts both forms, so a database can move to encryption gradually.
 */
export interface SecretCipher {
  seal(plain: string): string;
  open(stored: string): string;
  readonly encrypting: boolean;
}

export function createSecretCipher(key: Buffer | undefined): SecretCipher {
  return {
    encrypting: key !== undefined,
    seal(plain) {
      if (!key) return plain;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      if (!key) throw new Error('a signing secret is encrypted but ORBIT_ENCRYPTION_KEY is not set');
      const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}
