import net from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { HttpClient } from '../../src/net/http';
import { listen } from '../../src/api/listen';
import { startServer } from '../support/http-server';

test('requests to one registry host are capped at the configured concurrency', async () => {
  let active = 0;
  let peak = 0;
  const server = await startServer(async (_req, res) => {
    active++;
    peak = Math.max(peak, active);
    await new Promise((r) => setTimeout(r, 30));
    active--;
    res.writeHead(200).end('{}');
  });
  try {
    const http = new HttpClient({ perHostConcurrency: 3 });
    const answers = await Promise.all(Array.from({ length: 12 }, () => http.request(`${server.url}/v2/`)));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    expect(peak).toBe(3);
  } finally {
    await server.close();
  }
});

test("a caller's deadline that passes mid-request is a TIMEOUT naming the request; a cancellation stays the caller's", async () => {
  // Headers at once, then a body that never ends: the caller's deadline (an activity's start-to-close)
  // passes while the body is read, and once more while no answer has come at all.
  const server = await startServer((req, res) => {
    if (req.url === '/v2/slow-body') res.writeHead(200, { 'content-type': 'application/json' }).write('{');
  });
  try {
    const http = new HttpClient({ timeoutMs: 60_000 });
    for (const path of ['/v2/slow-body', '/v2/no-answer']) {
      const failure = await http.request(`${server.url}${path}`, { signal: AbortSignal.timeout(300) }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(failure).toMatchObject({
        name: 'HttpError',
        code: 'TIMEOUT',
        message: `${server.url}${path} did not answer before the caller's deadline`,
      });
    }
    const cancel = new AbortController();
    const cancelled = http
      .request(`${server.url}/v2/no-answer`, { signal: cancel.signal })
      .catch((e: unknown) => e);
    const reason = new Error('the trigger was paused');
    setTimeout(() => cancel.abort(reason), 100);
    expect(await cancelled).toBe(reason);
  } finally {
    await server.close();
  }
});

describe('the API server closes connections that hold a socket without asking anything', () => {
  const port = (server: Server) => (server.address() as net.AddressInfo).port;
  const closed = (socket: net.Socket) =>
    new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));

  test('200 connections that never send a byte are closed within the idle timeout', async () => {
    // Node's header timeout starts at a request's first byte: without ours, 400 of 400 stay open after 15 s.
    const server = await listen(express(), 0, '127.0.0.1', { idleMs: 1000 });
    try {
      const sockets = await Promise.all(
        Array.from(
          { length: 200 },
          () =>
            new Promise<net.Socket>((resolve, reject) => {
              const s = net.connect(port(server), '127.0.0.1', () => resolve(s));
              s.on('error', reject);
            }),
        ),
      );
      const started = Date.now();
      const ends = await Promise.all(sockets.map(closed));
      expect(Math.max(...ends) - started).toBeLessThan(4000);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test('a keep-alive connection left silent after its answer is closed, and a slow answer is not cut', async () => {
    const app = express();
    app.get('/slow', (_req, res) => void setTimeout(() => res.send('done'), 2500));
    const server = await listen(app, 0, '127.0.0.1', { idleMs: 800, keepAliveMs: 800 });
    try {
      const socket = net.connect(port(server), '127.0.0.1');
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      const gone = closed(socket);
      socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
      const started = Date.now();
      const end = await gone;
      // The answer came after three idle periods of silence; then the idle socket was closed.
      expect(answer).toMatch(/^HTTP\/1\.1 200[\s\S]*done$/);
      expect(end - started).toBeGreaterThanOrEqual(2500);
      expect(end - started).toBeLessThan(6000);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
