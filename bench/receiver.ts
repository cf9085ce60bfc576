/**
 * The benchmark's webhook receiver, in a process of its own (forked by bench/run.ts with an IPC
 * channel): node:http on 127.0.0.1, answers 204 at once, records every `svix-id` with the time its
 * request arrived (epoch milliseconds with sub-millisecond precision, comparable across processes
 * on this machine). A request to a URL with a query (`/hook?endpoint=3`: the fan-out phase's
 * endpoints) is recorded under its svix-id and that query, so one message at ten endpoints counts as
 * ten deliveries.
 *
 * With BENCH_ORIGINS=n it listens on n ports (n origins), all recorded together.
 *
 * IPC protocol: sends `{ type: 'ready', url, urls }` once listening. Requests are objects with a `seq`
 * number; every answer carries the same `seq`:
 *   { seq, cmd: 'reset' }                         forget everything received so far
 *   { seq, cmd: 'stats' }                         → { unique, requests, duplicates, firstAt, lastAt }
 *   { seq, cmd: 'wait', unique, timeoutMs }       → stats once `unique` distinct ids came (or at timeout)
 *   { seq, cmd: 'times', ids }                    → { times: (number | null)[] } receipt time per id
 */
import http from 'node:http';

const now = (): number => performance.timeOrigin + performance.now();

const arrivals = new Map<string, number>();
let requests = 0;
let duplicates = 0;
let firstAt = 0;
let lastAt = 0;
let waiter: { unique: number; answer: () => void } | null = null;

const handler: http.RequestListener = (req, res) => {
  const at = now();
  requests++;
  const svixId = req.headers['svix-id'];
  const query = req.url?.indexOf('?') ?? -1;
  const id = typeof svixId === 'string' && query >= 0 ? `${svixId}${req.url?.slice(query) ?? ''}` : svixId;
  if (typeof id === 'string') {
    if (arrivals.has(id)) duplicates++;
    else {
      arrivals.set(id, at);
      if (firstAt === 0) firstAt = at;
      lastAt = at;
    }
  }
  req.resume();
  req.on('end', () => {
    res.writeHead(204).end();
  });
  if (waiter !== null && arrivals.size >= waiter.unique) {
    const answer = waiter.answer;
    waiter = null;
    answer();
  }
};

function stats(): Record<string, number> {
  return { unique: arrivals.size, requests, duplicates, firstAt, lastAt };
}

interface Command {
  seq: number;
  cmd: 'reset' | 'stats' | 'wait' | 'times';
  unique?: number;
  timeoutMs?: number;
  ids?: string[];
}

process.on('message', (raw) => {
  const command = raw as Command;
  const reply = (body: Record<string, unknown>): void => {
    process.send?.({ seq: command.seq, ...body });
  };
  switch (command.cmd) {
    case 'reset':
      arrivals.clear();
      requests = 0;
      duplicates = 0;
      firstAt = 0;
      lastAt = 0;
      reply({});
      return;
    case 'stats':
      reply(stats());
      return;
    case 'wait': {
      const target = command.unique ?? 0;
      if (arrivals.size >= target) {
        reply(stats());
        return;
      }
      const timer = setTimeout(() => {
        waiter = null;
        reply({ ...stats(), timedOut: 1 });
      }, command.timeoutMs ?? 60_000);
      waiter = {
        unique: target,
        answer: () => {
          clearTimeout(timer);
          reply(stats());
        },
      };
      return;
    }
    case 'times':
      reply({ times: (command.ids ?? []).map((id) => arrivals.get(id) ?? null) });
      return;
  }
});

process.on('disconnect', () => process.exit(0));

// BENCH_ORIGINS servers (ports), so webhooks can be spread over several origins; one by default.
const urls: string[] = [];
for (let i = 0; i < Math.max(1, Number(process.env['BENCH_ORIGINS'] ?? 1)); i++) {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  urls.push(`http://127.0.0.1:${address.port}/hook`);
}
process.send?.({ type: 'ready', url: urls[0], urls });
