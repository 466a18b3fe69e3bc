import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@temporalio/client';
import { AppOptions, createApp } from '../../src/api/app';
import { Ledger } from '../../src/db/ledger';
import { listen } from '../../src/api/listen';

export interface TestApi {
  readonly url: string;
  request(method: string, path: string, body?: unknown): Promise<{ status: number; type: string; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

/** The real Express app on an ephemeral loopback port, on a worker's client, task queue and ledger. */
export async function startApi(
  env: { readonly client: Client; readonly taskQueue: string; readonly ledger: Ledger },
  options: Partial<AppOptions> = {},
): Promise<TestApi> {
  const app = createApp({ client: env.client, taskQueue: env.taskQueue, ledger: env.ledger, ...options });
  const server: Server = await listen(app, 0, '127.0.0.1');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async request(method, path, body) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return {
        status: res.status,
        type: res.headers.get('content-type') ?? '',
        body: text ? JSON.parse(text) : null,
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
