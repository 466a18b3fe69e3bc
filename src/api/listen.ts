import { createServer, Server } from 'node:http';
import type { Express } from 'express';

/** How long a client may take to send its headers, and its whole request; slow clients cannot hold sockets. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 60_000;

/** Serves the app with header and request timeouts checked every second. */
export function listen(
  app: Express,
  port: number,
  host: string,
  timeouts: { headersMs?: number; requestMs?: number } = {},
): Promise<Server> {
  const server = createServer(
    {
      headersTimeout: timeouts.headersMs ?? HEADERS_TIMEOUT_MS,
      requestTimeout: timeouts.requestMs ?? REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1000,
      // Longer than the idle timeout of common load balancers (60 s), so they never reuse a socket we close.
      keepAliveTimeout: 65_000,
    },
    app,
  );
  server.once('close', () => (app.locals.temporalHealth as { stop(): void } | undefined)?.stop());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
