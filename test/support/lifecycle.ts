/**
 * Helpers for the process life-cycle tests: Orbit processes with a test admin key and loopback
 * webhooks allowed, private temp folders, a scripted receiver, and what /proc says about processes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { killAllOrbits, startOrbit, type OrbitProcess, type OrbitProcessOptions } from '../../scripts/lib/orbit-process.ts';
import { startFakeReceiver, type FakeReceiver, type Script } from './fake-receiver.ts';

const ADMIN_KEY = 'gx_lifecycle_test_admin_key_0123456789';
export const onLinux = existsSync('/proc/self/stat');
export const asRoot = process.getuid?.() === 0;
export const cleanups: (() => Promise<void> | void)[] = [];

/** For the test file's afterAll: every Orbit started is killed, every cleanup run. */
export async function cleanUp(): Promise<void> {
  killAllOrbits();
  // One failing step must not leave the others' folders and processes behind.
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  cleanups.length = 0;
}

/** A `mktemp -d` folder: mode 0700, as users and CI get them. */
export function privateDir(prefix = 'orbit-life-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function orbitEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ORBIT_ADMIN_KEY: ADMIN_KEY,
    ORBIT_ALLOW_HTTP: 'true',
    ORBIT_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
    ...extra,
  };
}

export function orbit(options: Partial<OrbitProcessOptions> & { env: Record<string, string> }): OrbitProcess {
  return startOrbit({ args: ['serve'], ...options, env: orbitEnv(options.env) });
}

export async function receiver(script: Script): Promise<FakeReceiver> {
  const started = await startFakeReceiver({ script });
  cleanups.push(() => started.close());
  return started;
}

export async function api<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** A run whose webhook hears `run.started`, and that event reported: one message on its way. */
export async function reportOneEvent(base: string, url: string): Promise<string> {
  const run = await api<{ id: string }>(base, 'POST', '/v1/runs', { workflowId: 'wf_life', webhook: { url, events: ['run.started'] } });
  expect(run.status).toBe(201);
  expect((await api(base, 'POST', `/v1/runs/${run.body.id}/events`, { type: 'run.started' })).status).toBe(202);
  return run.body.id;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The children of a process (Linux). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** What a person sees: no stack traces, no multi-kilobyte lines (client objects dumped with errors). */
export function expectTidyOutput(run: OrbitProcess): void {
  const text = `${run.stdout}\n${run.stderr}`;
  expect(text).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
  for (const line of text.split('\n')) expect(line.length, line.slice(0, 300)).toBeLessThan(2_048);
}

export async function blockedPort(): Promise<number> {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const address = blocker.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}
