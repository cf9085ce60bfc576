/**
 * `orbit serve`: one supervising process that owns the embedded database (when DATABASE_URL is
 * unset), runs migrations and the first-start set-up once, then runs the HTTP API and the delivery
 * worker in child processes (node:cluster). API children share one listening port: the
 * supervisor holds it and hands each connection to one of them in turn.
 *
 * - A child that exits unexpectedly is restarted, after a back-off when it keeps crashing, and the
 *   crash is logged in one line. A child that fails before it ever became ready fails the start.
 * - Stopping sends SIGTERM to every child; each drains its in-flight attempts and exits 0. Only
 *   then does the supervisor stop the database (cli.ts stops what it started newest first).
 * - Children exit when the supervisor dies: node:cluster ends a child whose IPC channel closes.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../lib/logger.ts';
import { serveClusterMetrics } from './cluster-metrics.ts';

export type ChildRole = 'api' | 'worker';

export interface ProcessCounts {
  api: number;
  worker: number;
}

/**
 * `orbit serve`'s default process counts from the cores this process may use (P =
 * os.availableParallelism()): ceil(P/2) delivery workers and floor(P/2) API processes, at least
 * one each and at most 64 each — one Orbit process per core, the worker getting the odd one
 * (delivery does the heavier work per event: signing, HTTP, recording). 2 cores: 1 + 1; 4: 2 + 2;
 * 8: 4 + 4. ORBIT_API_PROCESSES and ORBIT_WORKER_PROCESSES override them.
 */
export function defaultProcessCounts(parallelism = availableParallelism()): ProcessCounts {
  const cores = Math.max(1, parallelism);
  return { api: Math.min(64, Math.max(1, Math.floor(cores / 2))), worker: Math.min(64, Math.max(1, Math.ceil(cores / 2))) };
}

/** What a child sends once it is ready. */
export interface ReadyMessage {
  type: 'orbit:ready';
  role: ChildRole;
  /** The API's address, as it listens (API children only). */
  address?: { address: string; port: number };
}

function isReadyMessage(message: unknown): message is ReadyMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'orbit:ready';
}

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
/** A child that ran this long before it crashed is restarted at once; quicker crashes back off. */
const STABLE_MS = 30_000;
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
const START_TIMEOUT_MS = 120_000;

interface Slot {
  role: ChildRole;
  index: number;
  worker: Worker | null;
  everReady: boolean;
  startedAt: number;
  backoffMs: number;
  restartTimer: NodeJS.Timeout | null;
}

export interface SupervisorOptions {
  counts: ProcessCounts;
  /** Set in every child's environment on top of this process's (DATABASE_URL). */
  env: Record<string, string>;
  logger: Logger;
  /** How long the children may take to drain before they are killed. */
  drainDeadlineMs: number;
}

export interface Supervisor {
  /** Where the API children listen. */
  address: { address: string; port: number } | null;
  /** Passes a repeated request to stop on to every child (each decides to stop at once). */
  forward(signal: NodeJS.Signals): void;
  /** SIGTERM to every child, then waits for all; throws unless every child exited 0. */
  stop(): Promise<void>;
}

/** Starts the children and resolves once every one of them is ready; rejects if one fails first. */
export async function startSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  const { logger } = options;
  const slots: Slot[] = [
    ...Array.from({ length: options.counts.api }, (_, index): Slot => blankSlot('api', index)),
    ...Array.from({ length: options.counts.worker }, (_, index): Slot => blankSlot('worker', index)),
  ];
  let stopping = false;
  let address: Supervisor['address'] = null;
  const exitCodes: (number | null)[] = [];
  let allExited: (() => void) | null = null;
  let initial: { resolve: () => void; reject: (error: Error) => void } | null = null;
  serveClusterMetrics();

  function blankSlot(role: ChildRole, index: number): Slot {
    return { role, index, worker: null, everReady: false, startedAt: 0, backoffMs: 0, restartTimer: null };
  }

  const label = (slot: Slot): string => `${slot.role === 'api' ? 'API' : 'delivery worker'} process ${slot.index + 1}`;
  const live = (): Worker[] => slots.flatMap((slot) => (slot.worker && !slot.worker.isDead() ? [slot.worker] : []));

  function fork(slot: Slot): void {
    cluster.setupPrimary({ exec: MAIN, args: [slot.role], execArgv: process.execArgv });
    const worker = cluster.fork(options.env);
    slot.worker = worker;
    slot.startedAt = performance.now();
    worker.on('message', (message: unknown) => {
      if (!isReadyMessage(message)) return;
      slot.everReady = true;
      if (message.address && address === null) address = message.address;
      if (slots.every((one) => one.everReady)) initial?.resolve();
    });
    // A child that cannot be started at all (spawn failure): its 'exit' follows.
    worker.on('error', (error) => logger.warn({ err: error, role: slot.role }, 'child process error'));
    worker.on('exit', (code, signal) => exited(slot, worker, code, signal));
  }

  function exited(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker === worker) slot.worker = null;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (stopping) {
      exitCodes.push(signal ? null : code);
      if (code !== 0)
        logger.warn({ role: slot.role, pid: worker.process.pid, code, signal }, `${label(slot)} exited with ${how} while stopping`);
      if (live().length === 0) allExited?.();
      return;
    }
    if (!slot.everReady) {
      initial?.reject(new Error(`the ${label(slot)} exited during start-up (${how})`));
      return;
    }
    const ranFor = performance.now() - slot.startedAt;
    slot.backoffMs = ranFor > STABLE_MS ? 0 : Math.min(MAX_BACKOFF_MS, Math.max(FIRST_BACKOFF_MS, slot.backoffMs * 2));
    logger.error(
      { role: slot.role, pid: worker.process.pid, code, signal, restartInMs: slot.backoffMs },
      `${label(slot)} exited unexpectedly (${how}); restarting${slot.backoffMs > 0 ? ` in ${slot.backoffMs} ms` : ''}`,
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (!stopping) fork(slot);
    }, slot.backoffMs);
  }

  const supervisor: Supervisor = {
    get address() {
      return address;
    },
    forward(signal) {
      for (const worker of live()) worker.process.kill(signal);
    },
    async stop() {
      stopping = true;
      for (const slot of slots) if (slot.restartTimer) clearTimeout(slot.restartTimer);
      const running = live();
      if (running.length > 0) {
        const done = new Promise<void>((resolve) => (allExited = resolve));
        for (const worker of running) worker.process.kill('SIGTERM');
        const timer = setTimeout(() => {
          logger.error('child processes did not stop in time: killing them');
          for (const worker of live()) worker.process.kill('SIGKILL');
        }, options.drainDeadlineMs);
        await done;
        clearTimeout(timer);
      }
      const failed = exitCodes.filter((code) => code !== 0).length;
      if (failed > 0) throw new Error(`${failed} child process(es) did not exit cleanly`);
    },
  };

  const ready = new Promise<void>((resolve, reject) => (initial = { resolve, reject }));
  for (const slot of slots) fork(slot);
  const timer = setTimeout(
    () => initial?.reject(new Error(`the child processes were not ready within ${START_TIMEOUT_MS / 1000} s`)),
    START_TIMEOUT_MS,
  );
  try {
    await ready;
  } catch (error) {
    await supervisor.stop().catch(() => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
    initial = null;
  }
  return supervisor;
}
