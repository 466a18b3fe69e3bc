import { createServer, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';

/** How long a client may take to send its headers, and its whole request; slow clients cannot hold sockets. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 60_000;
/** Longer than the idle timeout of common load balancers (60 s), so they never reuse a socket we close. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/**
 * How long a connection may stay silent while no request of it is being answered. Node's header timeout
 * starts at a request's first byte, so without this a connection that never sends one stays open (400 of
 * 400 after 15 s).
 */
export const IDLE_TIMEOUT_MS = 5_000;

export interface ListenTimeouts {
  readonly headersMs?: number;
  readonly requestMs?: number;
  readonly keepAliveMs?: number;
  readonly idleMs?: number;
}

/** Serves the app with header, request, keep-alive and idle timeouts (the first two checked every second). */
export function listen(
  app: Express,
  port: number,
  host: string,
  timeouts: ListenTimeouts = {},
): Promise<Server> {
  const server = createServer(
    {
      headersTimeout: timeouts.headersMs ?? HEADERS_TIMEOUT_MS,
      requestTimeout: timeouts.requestMs ?? REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1000,
      keepAliveTimeout: timeouts.keepAliveMs ?? KEEP_ALIVE_TIMEOUT_MS,
    },
    app,
  );
  // A socket silent for the idle time is closed unless one of its requests is being answered: a slow answer
  // (an update waiting for a worker) is the server's silence, not the client's.
  const answering = new WeakSet<Socket>();
  server.on('request', (req, res) => {
    answering.add(req.socket);
    res.once('close', () => answering.delete(req.socket));
  });
  server.setTimeout(timeouts.idleMs ?? IDLE_TIMEOUT_MS, (socket: Socket) => {
    if (!answering.has(socket)) socket.destroy();
  });
  server.once('close', () => (app.locals.temporalHealth as { stop(): void } | undefined)?.stop());
  server.once('close', () => void (app.locals.changeHub as { close(): Promise<void> } | undefined)?.close());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
