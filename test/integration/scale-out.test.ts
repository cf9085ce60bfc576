/**
 * Roles and scale-out: one `orbit api` and two `orbit worker` processes, real processes against
 * one PostgreSQL database. Every message is delivered exactly once (no faults here, so no
 * duplicates) and both workers deliver.
 *
 * Which worker sent a delivery is read from the operating system, not from Orbit: the receiver
 * looks up which process owns the client end of each TCP connection (/proc on Linux). Orbit
 * cannot misreport that, and the attribution needs no cooperation from the code under test.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { killAllOrbits, startOrbit, type OrbitProcess } from '../../scripts/lib/orbit-process.ts';
import { createTestDatabase } from '../support/database.ts';

const ADMIN_KEY = 'gx_scale_out_test_admin_key_0123456789';
const RUNS = 60;
const EVENTS = ['run.started', 'node.completed', 'node.completed', 'run.completed'] as const;
const MESSAGES = RUNS * EVENTS.length;

type Orbit = OrbitProcess;

afterAll(() => killAllOrbits());

function orbit(role: 'api' | 'worker', databaseUrl: string): Orbit {
  return startOrbit({
    args: [role],
    env: {
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      ORBIT_ADMIN_KEY: ADMIN_KEY,
      ORBIT_ALLOW_HTTP: 'true',
      ORBIT_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8',
      // Small, so that one worker cannot take the whole backlog before the other wakes.
      ORBIT_WORKER_CONCURRENCY: '8',
      ORBIT_MAX_CONNECTIONS_PER_ORIGIN: '8',
    },
  });
}

async function baseUrl(run: Orbit, pattern: RegExp): Promise<string> {
  const url = (await run.waitFor(pattern, 60_000))[1] as string;
  await expect.poll(async () => (await fetch(`${url}/readyz`)).status, { timeout: 10_000, interval: 50 }).toBe(200);
  return url;
}

// ---------------------------------------------------------------------------------------------
// Which process owns the other end of a loopback TCP connection (Linux /proc).

/** The inode of the socket whose local port is `localPort` and remote port `remotePort`. */
function socketInode(localPort: number, remotePort: number): string | null {
  const hex = (port: number): string => port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const remote = fields[2];
      if (local?.endsWith(`:${hex(localPort)}`) && remote?.endsWith(`:${hex(remotePort)}`)) return fields[9] ?? null;
    }
  }
  return null;
}

function ownerOf(inode: string, pids: readonly number[]): number | null {
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return null;
}

interface Delivery {
  svixId: string;
  eventType: string;
  /** The worker process that sent it; null when the connection could not be attributed. */
  pid: number | null;
}

interface Receiver {
  url: string;
  deliveries: Delivery[];
  close(): Promise<void>;
}

/** Answers 200 after a short delay, attributing each connection to a worker's pid. */
async function startReceiver(candidatePids: () => readonly number[]): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const owners = new WeakMap<Socket, number | null>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string };
      deliveries.push({ svixId: String(req.headers['svix-id']), eventType: body.type, pid: owners.get(req.socket) ?? null });
      // 8 attempts in flight per worker at 200 ms each cap one worker at ~40/s, well below the rate
      // the runs below are reported at: one worker alone cannot keep up, the other must take a share.
      setTimeout(() => res.writeHead(200).end('ok'), 200);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // While the connection is open, the client's end is in the kernel's table: look it up now.
    const inode = socketInode(socket.remotePort ?? -1, socket.localPort ?? -1);
    owners.set(socket, inode === null ? null : ownerOf(inode, candidatePids()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------

async function api(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function metricSum(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe.skipIf(process.platform !== 'linux')('one API and two workers against one database', () => {
  it('deliver every message exactly once, and both workers deliver', { timeout: 180_000 }, async () => {
    const databaseUrl = await createTestDatabase();
    // The API first: its start creates the admin key the workers will also reconcile.
    const apiProcess = orbit('api', databaseUrl);
    const apiUrl = await baseUrl(apiProcess, /listening on (http:\/\/\S+)/);
    const workers = [orbit('worker', databaseUrl), orbit('worker', databaseUrl)];
    const workerUrls = await Promise.all(workers.map((worker) => baseUrl(worker, /health and metrics on (http:\/\/\S+)/)));
    const workerPids = workers.map((worker) => worker.pid);
    // Several receiver origins: a worker holds at most a share of each origin's claims, so with
    // more origins than one worker can hold, the other worker is sure to get work.
    const receivers = await Promise.all(Array.from({ length: 4 }, () => startReceiver(() => workerPids)));
    const receiver = {
      get deliveries() {
        return receivers.flatMap((one) => one.deliveries);
      },
      close: async () => {
        await Promise.all(receivers.map((one) => one.close()));
      },
    };

    try {
      // Runs in parallel, each run's events in order (its state machine requires it).
      const runIds: string[] = [];
      await Promise.all(
        Array.from({ length: RUNS }, async (_, index) => {
          const created = await api(apiUrl, 'POST', '/v1/runs', {
            workflowId: `wf_scale_${index % 5}`,
            webhook: { url: (receivers[index % receivers.length] as Receiver).url },
          });
          expect(created.status).toBe(201);
          const runId = created.body.id as string;
          runIds.push(runId);
          for (const type of EVENTS) {
            const data = type === 'node.completed' ? { nodeId: `node_${Math.random().toString(36).slice(2)}` } : undefined;
            const accepted = await api(apiUrl, 'POST', `/v1/runs/${runId}/events`, { type, ...(data ? { data } : {}) });
            expect(accepted.status).toBe(202);
          }
        }),
      );

      await expect.poll(() => receiver.deliveries.length, { timeout: 60_000, interval: 100 }).toBeGreaterThanOrEqual(MESSAGES);
      const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
      try {
        await expect
          .poll(async () => (await sql`select count(*)::int as n from deliveries where status = 'succeeded'`)[0]?.n, {
            timeout: 30_000,
            interval: 100,
          })
          .toBe(MESSAGES);
        // A late duplicate would arrive within moments of the last record: give it the chance.
        await new Promise((resolve) => setTimeout(resolve, 1_500));

        const ids = receiver.deliveries.map((delivery) => delivery.svixId);
        expect(new Set(ids).size).toBe(MESSAGES);
        expect(ids).toHaveLength(MESSAGES);
        const [counts] = await sql`select count(*)::int as messages, count(*) filter (where attempt_count = 1)::int as once,
          (select count(*)::int from attempts) as attempts from deliveries`;
        expect(counts).toEqual({ messages: MESSAGES, once: MESSAGES, attempts: MESSAGES });
        const stored = await sql`select id from messages`;
        expect(new Set(stored.map((row) => row.id as string))).toEqual(new Set(ids));
      } finally {
        await sql.end();
      }

      // Every delivery came from one of the two worker processes (none from the API), and each did work.
      const byWorker = workerPids.map((pid) => receiver.deliveries.filter((delivery) => delivery.pid === pid).length);
      expect(receiver.deliveries.filter((delivery) => delivery.pid === null)).toEqual([]);
      expect(byWorker.reduce((a, b) => a + b, 0)).toBe(MESSAGES);
      for (const count of byWorker) expect(count).toBeGreaterThan(0);

      // Each worker's own counters, scraped from its ops server, agree with what the receiver saw.
      const scraped = await Promise.all(workerUrls.map(async (url) => (await fetch(`${url}/metrics`)).text()));
      const counted = scraped.map((text) => metricSum(text, 'orbit_attempts_total'));
      console.info(
        `scale-out: ${MESSAGES} messages; delivered per worker (receiver's view): ${byWorker.join(', ')}; orbit_attempts_total per worker: ${counted.join(', ')}`,
      );
      expect(counted).toEqual(byWorker);

      // The API exports the database-wide gauges; the backlog is drained.
      const apiMetrics = await (await fetch(`${apiUrl}/metrics`)).text();
      expect(metricSum(apiMetrics, 'orbit_events_accepted_total')).toBe(MESSAGES);
      expect(metricSum(apiMetrics, 'orbit_messages_pending')).toBe(0);
      for (const text of scraped) expect(text).not.toContain('orbit_messages_pending');
      expect(runIds).toHaveLength(RUNS);
    } finally {
      await receiver.close();
    }

    const codes = await Promise.all([...workers, apiProcess].map(async (run) => (await run.stop('SIGTERM')).code));
    expect(codes, [...workers, apiProcess].map((run) => run.stderr).join('\n')).toEqual([0, 0, 0]);
  });
});
