/**
 * A fake webhook receiver on 127.0.0.1 with scripted answers; it records every raw request.
 * Used by the sender tests and the delivery-engine tests.
 */
import http from 'node:http';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The exact raw body bytes as UTF-8 ('' when the answer did not read it). */
  body: string;
  receivedAt: number;
}

export type Answer =
  | number // shorthand for { status }
  | { status: number; body?: string; headers?: Record<string, string> }
  | { hang: true }
  | { reset: true }
  | { resetMidBody: true }
  | { trickle: { bytesPerSecond: number; totalBytes: number } }
  | { bigBody: number }
  | { redirect: string; status?: number }
  | { delayMs: number; then: Answer }
  | { ignoreBody: true; status: number };

/** Answers consumed in order (the last repeats), or a function of the request and its 0-based index. */
export type Script = readonly Answer[] | ((request: RecordedRequest, index: number) => Answer);

export interface FakeReceiver {
  /** http(s)://127.0.0.1:port/hook */
  url: string;
  port: number;
  requests: RecordedRequest[];
  setScript(script: Script): void;
  waitForRequests(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

export interface FakeReceiverOptions {
  script?: Script;
}

export function startFakeReceiver(options: FakeReceiverOptions = {}): Promise<FakeReceiver> {
  return start(http.createServer(), 'http', options);
}

/** A self-signed HTTPS receiver: the key and certificate are made now in a temp dir, never committed. */
export function startTlsReceiver(options: FakeReceiverOptions = {}): Promise<FakeReceiver> {
  const dir = mkdtempSync(join(tmpdir(), 'orbit-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const key = readFileSync(join(dir, 'key.pem'));
    const cert = readFileSync(join(dir, 'cert.pem'));
    return start(https.createServer({ key, cert }), 'https', options);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function start(server: http.Server, scheme: 'http' | 'https', options: FakeReceiverOptions): Promise<FakeReceiver> {
  let script: Script = options.script ?? [200];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<() => void>();
  let arrivals = 0;

  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const record = (request: RecordedRequest): void => {
    requests.push(request);
    for (const wake of waiters) wake();
  };

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const index = arrivals++;
    const receivedAt = Date.now();
    const base = { method: req.method ?? '', path: req.url ?? '', headers: headersOf(req), receivedAt };
    // An array script is known before the body is read, so `ignoreBody` can answer without reading it.
    if (typeof script !== 'function') {
      const answer = script[Math.min(index, script.length - 1)] ?? 200;
      if (typeof answer === 'object' && 'ignoreBody' in answer) {
        record({ ...base, body: '' });
        answer_(answer, req, res);
        return;
      }
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => undefined);
    req.on('end', () => {
      const request = { ...base, body: Buffer.concat(chunks).toString('utf8') };
      record(request);
      const current = script;
      const answer = typeof current === 'function' ? current(request, index) : (current[Math.min(index, current.length - 1)] ?? 200);
      answer_(answer, req, res);
    });
  });

  function answer_(answer: Answer, req: http.IncomingMessage, res: http.ServerResponse): void {
    if (typeof answer === 'number') {
      res.writeHead(answer).end();
    } else if ('delayMs' in answer) {
      later(answer.delayMs, () => answer_(answer.then, req, res));
    } else if ('hang' in answer) {
      // Never answers; close() destroys the socket.
    } else if ('reset' in answer) {
      req.socket.destroy();
    } else if ('resetMidBody' in answer) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10000' });
      res.write('x'.repeat(100));
      later(50, () => req.socket.destroy());
    } else if ('trickle' in answer) {
      trickle(res, answer.trickle.bytesPerSecond, answer.trickle.totalBytes);
    } else if ('bigBody' in answer) {
      void bigBody(res, answer.bigBody);
    } else if ('redirect' in answer) {
      res.writeHead(answer.status ?? 302, { location: answer.redirect }).end();
    } else if ('ignoreBody' in answer) {
      res.writeHead(answer.status, { connection: 'close' }).end();
    } else {
      res.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '');
    }
  }

  function trickle(res: http.ServerResponse, bytesPerSecond: number, totalBytes: number): void {
    const tickMs = Math.max(10, Math.floor(1000 / bytesPerSecond));
    const perTick = Math.max(1, Math.round((bytesPerSecond * tickMs) / 1000));
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(totalBytes) });
    let sent = 0;
    const tick = (): void => {
      if (res.destroyed) return;
      const n = Math.min(perTick, totalBytes - sent);
      res.write('x'.repeat(n));
      sent += n;
      if (sent >= totalBytes) res.end();
      else later(tickMs, tick);
    };
    later(tickMs, tick);
  }

  async function bigBody(res: http.ServerResponse, bytes: number): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(bytes) });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    // Honour back-pressure so the receiver itself never buffers the whole body.
    while (sent < bytes && !res.destroyed) {
      const n = Math.min(chunk.length, bytes - sent);
      sent += n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    if (!res.destroyed) res.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake receiver has no TCP address');
  const port = address.port;

  return {
    url: `${scheme}://127.0.0.1:${port}/hook`,
    port,
    requests,
    setScript(next: Script) {
      script = next;
    },
    waitForRequests(n: number, timeoutMs = 5_000) {
      return new Promise<RecordedRequest[]>((resolve, reject) => {
        const check = (): boolean => {
          if (requests.length < n) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(requests.slice(0, n));
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`fake receiver got ${requests.length} of ${n} requests within ${timeoutMs} ms`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function headersOf(req: http.IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    const value = req.rawHeaders[i + 1] as string;
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}
