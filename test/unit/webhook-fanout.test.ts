import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Client } from '@temporalio/client';
import { createApp } from '../../src/api/app';
import type { Ledger } from '../../src/db/ledger';
import { TemporalHealth } from '../../src/api/temporal-health';

/**
 * A trigger can close between the visibility listing and its signal (visibility is eventually consistent,
 * so this race cannot be staged reliably on a real server): the others must still be signalled and the
 * answer must say which one was missed. The Temporal client here is a stand-in for exactly that race.
 */
test('one trigger closed since the listing does not cost the others their signal', async () => {
  const signalled: string[] = [];
  const queries: string[] = [];
  const client = {
    workflow: {
      async *list({ query }: { query: string }) {
        queries.push(query);
        yield { workflowId: 'trigger/p/alive-1' };
        yield { workflowId: 'trigger/p/gone' };
        yield { workflowId: 'trigger/p/alive-2' };
      },
      getHandle: (id: string) => ({
        signal: async () => {
          if (id.endsWith('gone')) throw new Error('workflow execution already completed');
          signalled.push(id);
        },
      }),
    },
  } as unknown as Client;
  // Never started: the stand-in has no server to probe, so Temporal counts as up.
  const app = createApp({
    client,
    taskQueue: 'unused',
    ledger: {} as Ledger,
    health: new TemporalHealth(client),
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const res = await fetch(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/registry?feed=reg.example`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events: [{ action: 'push', target: { repository: 'a/b', tag: '1.0.0' } }] }),
      },
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({
      packages: ['reg.example/a/b'],
      triggers: ['trigger/p/alive-1', 'trigger/p/alive-2'],
      missed: ['trigger/p/gone'],
    });
    expect(signalled.sort()).toEqual(['trigger/p/alive-1', 'trigger/p/alive-2']);
    expect(queries).toEqual([
      "WorkflowType = 'trigger' AND ExecutionStatus = 'Running' AND FeedTriggersPackages IN ('reg.example/a/b')",
    ]);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
