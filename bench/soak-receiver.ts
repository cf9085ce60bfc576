/**
 * The soak test's receivers, in a process of their own so they never compete with the load
 * generator: RECEIVERS servers on 127.0.0.1, the first answering 500 to 20 % of requests.
 * IPC: sends { urls } once listening; answers 'report' with counts per receiver.
 */
import http from 'node:http';

const RECEIVERS = 4;
const FAIL_RATE = 0.2;

interface Tally {
  url: string;
  failing: boolean;
  requests: number;
  answered2xx: number;
  answered5xx: number;
  /** 2xx answers per svix-id: more than one is a duplicate delivery. */
  delivered: Map<string, number>;
}

const tallies: Tally[] = [];
for (let i = 0; i < RECEIVERS; i++) {
  const tally: Tally = { url: '', failing: i === 0, requests: 0, answered2xx: 0, answered5xx: 0, delivered: new Map() };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      tally.requests++;
      if (tally.failing && Math.random() < FAIL_RATE) {
        tally.answered5xx++;
        res.writeHead(500).end('unlucky');
        return;
      }
      const id = String(req.headers['svix-id']);
      tally.delivered.set(id, (tally.delivered.get(id) ?? 0) + 1);
      tally.answered2xx++;
      res.writeHead(200).end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  tally.url = `http://127.0.0.1:${address.port}/hook`;
  tallies.push(tally);
}

process.on('message', (message) => {
  if (message !== 'report') return;
  process.send?.({
    receivers: tallies.map((tally) => ({
      url: tally.url,
      failing: tally.failing,
      requests: tally.requests,
      answered2xx: tally.answered2xx,
      answered5xx: tally.answered5xx,
      messagesDelivered: tally.delivered.size,
      duplicates: [...tally.delivered.values()].reduce((sum, n) => sum + (n - 1), 0),
    })),
  });
});
process.on('disconnect', () => process.exit(0));
process.send?.({ urls: tallies.map((tally) => tally.url) });
