import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@temporalio/client';
import { AppOptions, createApp } from '../../src/api/app';
import { listen } from '../../src/api/listen';
import { AccessRole, AccessStore } from '../../src/db/access';
import { Stores } from '../../src/db/stores';

export interface TestApi {
  readonly url: string;
  /** An admin token, which `request` sends unless told otherwise. */
  readonly token: string;
  readonly access: AccessStore;
  request(
    method: string,
    path: string,
    body?: unknown,
    options?: { token?: string | null },
  ): Promise<{ status: number; type: string; body: any; headers: Headers }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** A new token of that role. */
  tokenFor(role: AccessRole): Promise<string>;
  close(): Promise<void>;
}

let tokens = 0;

/** The real Express app on an ephemeral loopback port, on a worker's client, task queue and ledger. */
export async function startApi(
  env: { readonly client: Client; readonly taskQueue: string; readonly stores: Stores },
  options: Partial<AppOptions> = {},
): Promise<TestApi> {
  const access = options.access ?? env.stores.access;
  const app = createApp({
    client: env.client,
    taskQueue: env.taskQueue,
    ledger: env.stores.ledger,
    access,
    receivers: env.stores.receivers,
    sessions: env.stores.sessions,
    overview: env.stores.overview,
    changes: env.stores.changes,
    watches: env.stores.watches,
    ...options,
  });
  const server: Server = await listen(app, 0, '127.0.0.1');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tokenFor = async (role: AccessRole) =>
    (await access.createToken(`test-${role}-${++tokens}-${process.pid}`, role, 'test')).token;
  const token = await tokenFor('admin');
  return {
    url,
    token,
    access,
    tokenFor,
    async request(method, path, body, { token: given = token } = {}) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(given ? { authorization: `Bearer ${given}` } : {}),
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return {
        status: res.status,
        type: res.headers.get('content-type') ?? '',
        body: text ? JSON.parse(text) : null,
        headers: res.headers,
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Every method and path Express serves, nested routers included (the access check's own matchers not). */
export function servedRoutes(app: ReturnType<typeof createApp>): string[] {
  const found: string[] = [];
  const walk = (stack: unknown[]) => {
    for (const layer of stack as {
      route?: { path: string; methods: Record<string, boolean>; stack: { name: string }[] };
      handle?: { stack?: unknown[] };
    }[]) {
      if (layer.route && layer.route.stack.every((l) => l.name !== 'ruleMatched'))
        for (const method of Object.keys(layer.route.methods))
          if (method !== '_all') found.push(`${method.toUpperCase()} ${layer.route.path}`);
      if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: unknown[] } }).router.stack);
  return found;
}
