/**
 * A webhook receiver that checks the order it sees (ordered delivery): it records every request's
 * svix-id in arrival order, can fail a message's first attempt, and tells, for the messages each
 * run (or group) was expected to get in order, whether any arrived after a later one.
 */
import http from 'node:http';
import type { Socket } from 'node:net';

export interface OrderReceiver {
  url: string;
  /** svix-ids in arrival order, duplicates included. */
  arrivals: string[];
  /** Distinct svix-ids received. */
  unique(): number;
  /** Requests being answered right now, and the most at once. */
  inFlight: { now: number; max: number };
  close(): Promise<void>;
}

export interface OrderReceiverOptions {
  /** Answer 500 to the first attempt of the messages this picks (they succeed when retried). */
  failFirst?: (svixId: string) => boolean;
  /** Wait this long before answering (ms); a function for a random delay. */
  delayMs?: number | (() => number);
}

export async function startOrderReceiver(options: OrderReceiverOptions = {}): Promise<OrderReceiver> {
  const arrivals: string[] = [];
  const seen = new Set<string>();
  const sockets = new Set<Socket>();
  const inFlight = { now: 0, max: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['svix-id']);
      arrivals.push(id);
      const first = !seen.has(id);
      seen.add(id);
      inFlight.now++;
      inFlight.max = Math.max(inFlight.max, inFlight.now);
      const delay = typeof options.delayMs === 'function' ? options.delayMs() : (options.delayMs ?? 0);
      const status = first && options.failFirst?.(id) === true ? 500 : 200;
      setTimeout(() => {
        inFlight.now--;
        res.writeHead(status).end();
      }, delay);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    arrivals,
    unique: () => seen.size,
    inFlight,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The order violations in `arrivals` for sequences each expected in order: an arrival of a message
 * after a later message of its sequence had arrived (a repeat of the latest one is not a violation:
 * delivery is at least once). Empty when every sequence was seen in order.
 */
export function orderViolations(arrivals: readonly string[], sequences: readonly (readonly string[])[]): string[] {
  const position = new Map<string, { sequence: number; index: number }>();
  sequences.forEach((ids, sequence) => ids.forEach((id, index) => position.set(id, { sequence, index })));
  const latest = new Map<number, number>();
  const violations: string[] = [];
  for (const id of arrivals) {
    const at = position.get(id);
    if (at === undefined) continue;
    const before = latest.get(at.sequence) ?? -1;
    if (at.index < before) violations.push(`${id} (#${at.index + 1}) arrived after #${before + 1} of its sequence`);
    latest.set(at.sequence, Math.max(before, at.index));
  }
  return violations;
}
