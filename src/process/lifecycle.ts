/**
 * One Orbit process's life: what it started (stopped newest first), the requests to stop (signals,
 * the launcher going away, the database going away) and how it exits.
 *
 * Signals: the first SIGTERM, SIGINT or SIGHUP starts a graceful shutdown. A repeat within
 * REPEAT_WINDOW_MS of the first is the same request, not an escalation: a terminal's Ctrl-C reaches
 * every process of the foreground group (npm, Orbit), npm forwards what it gets, and supervisors
 * signal whole groups or cgroups, so one request often arrives twice. A later repeat escalates.
 */
import { describeError } from './output.ts';
import type { Logger } from '../lib/logger.ts';

const REPEAT_WINDOW_MS = 1_000;
const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

export interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

export interface LifecycleOptions {
  logger: Logger;
  /** A graceful shutdown that takes longer than this is cut short (exit 1). */
  deadlineMs: number;
  /** Prints one line for a person (stderr); the logger writes JSON for log storage. */
  fail(line: string): void;
}

export class Lifecycle {
  readonly started: Stoppable[] = [];
  private readonly options: LifecycleOptions;
  private stoppingSince: number | null = null;
  private exitCode = 0;
  private startup: Promise<void> = Promise.resolve();
  /** What a later, repeated request does; by default the process exits at once with code 1. */
  onEscalate: ((reason: string) => void) | null = null;

  constructor(options: LifecycleOptions) {
    this.options = options;
  }

  get stopping(): boolean {
    return this.stoppingSince !== null;
  }

  /** Signals, uncaught errors and (with a launcher or supervisor) the IPC channel's end. */
  install(): void {
    for (const signal of SHUTDOWN_SIGNALS) process.on(signal, () => this.request(signal));
    process.on('uncaughtException', (error) => this.crash(error));
    process.on('unhandledRejection', (error) => this.crash(error));
  }

  /**
   * Ends this process when the process that started it with an IPC channel (bin/orbit.js) dies,
   * even by SIGKILL: an Orbit must never run on unsupervised. A graceful shutdown, so in-flight
   * attempts are still recorded where the database is still there.
   */
  watchLauncher(): void {
    if (typeof process.send !== 'function') return;
    process.once('disconnect', () => this.request('launcher exited'));
    // The channel alone must not keep the process alive.
    (process.channel as { unref?: () => void } | undefined)?.unref?.();
  }

  /** Runs the start-up; a failure ends the process with one line saying why. */
  async run(start: () => Promise<void>): Promise<void> {
    this.startup = start();
    try {
      await this.startup;
    } catch (error) {
      // A request to stop that came during start-up owns the exit.
      if (this.stopping) return;
      this.stoppingSince = performance.now();
      // One line that says what is wrong (and, for the database, what to do): nothing else.
      this.options.fail(describeError(error));
      this.exitAfterTeardown(1, 15_000);
    }
  }

  /** A request to stop gracefully (a signal, the launcher gone). */
  request(reason: string): void {
    const { logger } = this.options;
    if (this.stoppingSince === null) {
      this.stoppingSince = performance.now();
      logger.info({ reason }, 'shutting down');
      this.exitAfterTeardown(0, this.options.deadlineMs);
      return;
    }
    if (performance.now() - this.stoppingSince < REPEAT_WINDOW_MS) {
      logger.debug({ reason }, 'repeated request to stop: already shutting down');
      return;
    }
    logger.warn({ reason }, 'repeated request to stop during shutdown: stopping at once');
    if (this.onEscalate) this.onEscalate(reason);
    else process.exit(1);
  }

  /** Something this process cannot go on without is gone: one line, a short teardown, exit 1. */
  fatal(message: string): void {
    if (this.stopping && this.exitCode !== 0) return;
    this.options.fail(message);
    this.options.logger.error(message);
    this.exitCode = 1;
    if (this.stoppingSince === null) {
      this.stoppingSince = performance.now();
      this.exitAfterTeardown(1, 15_000);
    }
  }

  private crash(error: unknown): void {
    this.options.logger.fatal({ err: error }, 'crashed');
    this.options.fail(`crashed: ${describeError(error)}`);
    if (this.stopping) process.exit(1);
    this.stoppingSince = performance.now();
    this.exitCode = 1;
    this.exitAfterTeardown(1, 15_000);
  }

  private exitAfterTeardown(code: number, deadlineMs: number): void {
    const { logger } = this.options;
    if (code !== 0) this.exitCode = code;
    setTimeout(() => {
      logger.error('shutdown took too long: exiting');
      this.options.fail('shutdown took too long: exiting');
      process.exit(1);
    }, deadlineMs).unref();
    void (async () => {
      // A start in progress finishes (or fails) first, so nothing it opens is left behind.
      await this.startup.catch(() => undefined);
      const clean = await this.teardown();
      logger.info('stopped');
      process.exit(clean ? this.exitCode : 1);
    })();
  }

  /** Stops everything started so far, newest first; a failing step does not skip the others. */
  async teardown(): Promise<boolean> {
    let clean = true;
    for (let item = this.started.pop(); item; item = this.started.pop()) {
      try {
        await item.stop();
        this.options.logger.debug({ part: item.name }, 'stopped');
      } catch (error) {
        clean = false;
        this.options.logger.error({ err: error, part: item.name }, 'error while stopping');
      }
    }
    return clean;
  }

  /** Ends the process once what was started is stopped (`orbit migrate`). */
  finish(): void {
    if (this.stopping) return;
    this.stoppingSince = performance.now();
    this.exitAfterTeardown(0, this.options.deadlineMs);
  }
}
