/**
 * Starting an Orbit process the way a user does, for the tests, the benchmarks and the demo: one
 * helper instead of a copy in each. It imports nothing of Orbit's code: it runs `src/main.ts`,
 * `bin/orbit.js` or `npm start` as a real process and reads what it prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ORBIT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ORBIT_MAIN = join(ORBIT_ROOT, 'src/main.ts');
const ORBIT_BIN = join(ORBIT_ROOT, 'bin/orbit.js');
/** The V8 flag `npm start` and the bin run Orbit with. */
const ORBIT_NODE_FLAGS = ['--max-semi-space-size=16'];

export interface OrbitProcessOptions {
  /** `orbit` arguments: ['serve'], ['worker'], ['--help'], … */
  args: readonly string[];
  /** Variables on top of the base environment. */
  env?: Record<string, string | undefined>;
  /**
   * The base environment: 'clean' (default) passes only PATH, HOME and TMPDIR, so the caller's
   * own DATABASE_URL or ORBIT_* cannot leak in; 'inherit' passes the caller's whole environment.
   */
  baseEnv?: 'clean' | 'inherit';
  /** How it is started: `node src/main.ts` (default), `node bin/orbit.js`, or `npm start` (args ignored). */
  via?: 'main' | 'bin' | 'npm';
  /** A script of this repository to run instead of Orbit's entry point (a test's purpose-built worker). */
  script?: string;
  /** Node flags before the script (default: the V8 flag npm start uses; not with 'npm'). */
  nodeArgs?: readonly string[];
  /** In a process group of its own, so signals can go to the whole group as a terminal's Ctrl-C does. */
  detached?: boolean;
  /** 'pipe' (default) reads stdout and stderr; 'inherit' passes stderr through to the caller's. */
  stderr?: 'pipe' | 'inherit';
  /** Captured characters per stream at most (the start of the output: banners, keys). Default 4 MiB. */
  captureLimit?: number;
  /** Every complete line, as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Extra stdio entries after stdin/stdout/stderr (e.g. 'ipc'). */
  extraStdio?: ('ipc' | 'pipe' | 'ignore')[];
}

interface OrbitExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface OrbitProcess {
  child: ChildProcess;
  pid: number;
  stdout: string;
  stderr: string;
  readonly exited: boolean;
  exit: Promise<OrbitExit>;
  /** Waits until `pattern` appears in stdout (or stderr); rejects when Orbit exits first or the time is up. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** The URL of the start banner (`listening on http://…`). */
  listening(timeoutMs?: number): Promise<string>;
  /** A signal to the process, or (detached only) to its whole process group. */
  signal(signal: NodeJS.Signals, options?: { group?: boolean }): void;
  /** Sends `signal` and waits for the exit; SIGKILLs (the group, when detached) after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<OrbitExit>;
  /** SIGKILL, to the whole group when detached. */
  kill(): void;
}

const running = new Set<OrbitProcess>();

/** Kills every Orbit started here that is still running (for afterAll and exit handlers). */
export function killAllOrbits(): void {
  for (const orbit of running) orbit.kill();
}

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  if (process.env.HOME) env.HOME = process.env.HOME;
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  return env;
}

export function startOrbit(options: OrbitProcessOptions): OrbitProcess {
  const via = options.via ?? 'main';
  const env: Record<string, string> = options.baseEnv === 'inherit' ? ({ ...process.env } as Record<string, string>) : cleanEnv();
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const nodeArgs = options.nodeArgs ?? ORBIT_NODE_FLAGS;
  const [command, args] =
    via === 'npm'
      ? // npm scripts put node_modules/.bin (Node 24) first on PATH, as for a user.
        ['npm', ['start', '--silent']]
      : [process.execPath, [...nodeArgs, options.script ?? (via === 'bin' ? ORBIT_BIN : ORBIT_MAIN), ...options.args]];
  const child = spawn(command, args as string[], {
    cwd: ORBIT_ROOT,
    env,
    stdio: ['ignore', 'pipe', options.stderr === 'inherit' ? 'inherit' : 'pipe', ...(options.extraStdio ?? [])],
    detached: options.detached ?? false,
  });
  const limit = options.captureLimit ?? 4 * 1024 * 1024;
  let exited = false;
  const orbit: OrbitProcess = {
    child,
    pid: child.pid ?? -1,
    stdout: '',
    stderr: '',
    get exited() {
      return exited;
    },
    exit: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exited = true;
        running.delete(orbit);
        resolve({ code, signal });
      });
    }),
    async waitFor(pattern, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(orbit.stdout) ?? pattern.exec(orbit.stderr);
        if (match) return match;
        if (exited || Date.now() > deadline) {
          throw new Error(
            `orbit ${exited ? 'exited' : `did not print ${pattern} within ${timeoutMs} ms`}\nstdout:\n${orbit.stdout.slice(-4000)}\nstderr:\n${orbit.stderr.slice(-4000)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async listening(timeoutMs) {
      return (await orbit.waitFor(/listening on (http:\/\/\S+)/, timeoutMs))[1] as string;
    },
    signal(signal, { group = false } = {}) {
      if (exited) return;
      try {
        if (group && options.detached) process.kill(-orbit.pid, signal);
        else child.kill(signal);
      } catch {
        // gone meanwhile
      }
    },
    async stop(signal = 'SIGTERM', timeoutMs = 60_000) {
      orbit.signal(signal);
      const timer = setTimeout(() => orbit.kill(), timeoutMs);
      const result = await orbit.exit;
      clearTimeout(timer);
      return result;
    },
    kill() {
      if (options.detached) {
        try {
          process.kill(-orbit.pid, 'SIGKILL');
        } catch {
          // the group is gone
        }
      }
      if (!exited) child.kill('SIGKILL');
    },
  };
  running.add(orbit);

  for (const stream of ['stdout', 'stderr'] as const) {
    const source = child[stream];
    if (!source) continue;
    let partial = '';
    // Always drained: a full pipe would block Orbit's logging, and so Orbit.
    source.setEncoding('utf8').on('data', (chunk: string) => {
      if (orbit[stream].length < limit) orbit[stream] += chunk;
      if (!options.onLine) return;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) options.onLine(line, stream);
    });
  }
  return orbit;
}
