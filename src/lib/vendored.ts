/**
 * Files of npm packages that Orbit serves to browsers itself (no CDN: private clouds are often
 * offline). Each is read once, on first use, and kept in memory with a content hash, so its URL can
 * carry the hash and be cached for a year.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface VendoredFile {
  body: Buffer;
  contentType: string;
  /** The first 16 hex characters of the body's SHA-256: part of the asset's URL. */
  hash: string;
}

const require = createRequire(import.meta.url);
const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

function contentTypeOf(path: string): string {
  const extension = path.slice(path.lastIndexOf('.'));
  return CONTENT_TYPES[extension] ?? 'application/octet-stream';
}

/** A file's bytes with their type and hash. */
export function fileAsset(path: string): VendoredFile {
  const body = readFileSync(path);
  return { body, contentType: contentTypeOf(path), hash: createHash('sha256').update(body).digest('hex').slice(0, 16) };
}

/**
 * A file inside an installed package, found from the package's resolvable entry point (packages
 * whose `exports` hide the file, such as a browser bundle, are reachable this way too).
 */
export function packageAsset(entry: string, relativeToEntryDir: string): () => VendoredFile {
  let loaded: VendoredFile | undefined;
  return () => (loaded ??= fileAsset(join(dirname(require.resolve(entry)), relativeToEntryDir)));
}

/** Cache headers for an asset whose URL changes whenever its content does. */
export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';
