import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@temporalio/client';
import express from 'express';
import { mountRoutes } from '../../src/api/route';
import { webhookHandlers, WEBHOOK_ROUTES } from '../../src/api/webhooks';
import type { Database } from '../../src/db/open';
import { openTestDatabase } from '../support/database';
import { eventually } from '../support/temporal';
import { Ledger } from '../../src/db/ledger';
import { ReceiverStore } from '../../src/db/receivers';
import { ProjectSpecSchema } from '../../src/domain/project';
import { registry } from '../../src/observability/metrics';

/** Metrics count what they name: every final deployment state, and notifications taken but naming no push. */
const count = async (name: string, labels: Record<string, string>): Promise<number> => {
  const metric = await registry.getSingleMetric(name)!.get();
  const value = metric.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return value?.value ?? 0;
};

describe('feed_triggers_deployments_total', () => {
  let database: Database;
  let ledger: Ledger;
  beforeAll(async () => {
    database = await openTestDatabase();
    ledger = new Ledger(database.db);
  });
  afterAll(() => database?.close());

  test('counts superseded, cancelled and succeeded deployments once each', async () => {
    const spec = ProjectSpecSchema.parse({
      name: 'counted',
      packages: [{ name: 'web', feed: 'docker.io', package: 'shop/web' }],
      environments: [{ name: 'dev' }],
      lifecycles: [{ name: 'standard', phases: [{ name: 'dev', environments: ['dev'] }] }],
      lifecycle: 'standard',
      channels: [{ name: 'default' }],
    });
    await ledger.saveProject(spec);
    const release = async (tag: string) => {
      const created = await ledger.createRelease('counted', {
        channel: 'default',
        packages: [{ name: 'web', feed: 'docker.io', package: 'shop/web', tag, digest: null }],
        watched: ['web'],
        requireLater: true,
        reason: 'test',
        source: { kind: 'trigger', trigger: 'trigger/counted/t' },
        key: `k-${tag}`,
      });
      return created.release!.id;
    };
    const store = ledger.deployments;
    const [r1, r2, r3] = [await release('1.0.0'), await release('1.1.0'), await release('1.2.0')];
    const before = {
      succeeded: await count('feed_triggers_deployments_total', { state: 'succeeded' }),
      superseded: await count('feed_triggers_deployments_total', { state: 'superseded' }),
      cancelled: await count('feed_triggers_deployments_total', { state: 'cancelled' }),
    };

    await store.queue(r1, 'dev', 'alice', false);
    await store.queue(r2, 'dev', 'alice', false);
    const next = await store.next('counted', 'dev'); // r1 is superseded by r2, queued behind it
    expect(next).toMatchObject({ kind: 'deploy', ended: [{ status: 'superseded' }] });
    const id = (next as { id: number }).id;
    expect((await store.begin(id)).kind).toBe('deploy');
    await store.finish(id, 'succeeded', null, {});
    await store.finish(id, 'succeeded', null, {}); // a retried activity records nothing twice
    await store.queue(r3, 'dev', 'alice', false);
    await store.cancel(r3, 'dev');

    expect({
      succeeded: (await count('feed_triggers_deployments_total', { state: 'succeeded' })) - before.succeeded,
      superseded:
        (await count('feed_triggers_deployments_total', { state: 'superseded' })) - before.superseded,
      cancelled: (await count('feed_triggers_deployments_total', { state: 'cancelled' })) - before.cancelled,
    }).toEqual({ succeeded: 1, superseded: 1, cancelled: 1 });
  });
});

describe('feed_triggers_webhook_notifications_total', () => {
  let server: Server;
  let url: string;
  let database: Database;
  const logged: string[] = [];
  beforeAll(async () => {
    database = await openTestDatabase();
    const app = express();
    // No Temporal server: a notification that names no push signals nobody, so the client never connects.
    mountRoutes(
      app,
      WEBHOOK_ROUTES,
      webhookHandlers(new Client(), null, new ReceiverStore(database.db), (line) => logged.push(line)),
    );
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await database?.close();
  });

  test('a notification of pulls only is counted as ignored, not accepted', async () => {
    const accepted = await count('feed_triggers_webhook_notifications_total', { verdict: 'accepted' });
    const res = await fetch(`${url}/webhooks/registry?feed=reg.example`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
      body: JSON.stringify({
        events: [
          { action: 'pull', target: { repository: 'shop/web', tag: '1.0.0' } },
          { action: 'push', target: { repository: 'shop/web' } }, // a blob: no tag moved
        ],
      }),
    });
    expect(res.status).toBe(202);
    await new Promise((r) => setImmediate(r)); // counted when the answer finishes
    expect(await count('feed_triggers_webhook_notifications_total', { verdict: 'ignored' })).toBe(1);
    expect(await count('feed_triggers_webhook_notifications_total', { verdict: 'accepted' })).toBe(accepted);
  });

  test("the endpoint's last notifications are kept for the admin page, newest first, with their verdicts", async () => {
    const post = (body: string) =>
      fetch(`${url}/webhooks/registry?feed=reg.example`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    expect((await post('{"events": "not a list')).status).toBe(400);
    const pulled = { events: [{ action: 'pull', target: { repository: 'shop/web', tag: 'pulled-tag-7' } }] };
    expect((await post(JSON.stringify(pulled))).status).toBe(202);
    const listed = await eventually(async () => {
      const res = await fetch(`${url}/webhooks/registry/notifications`);
      const body = (await res.json()) as {
        notifications: { verdict: string; status: number; reason: string }[];
      };
      return body.notifications.length >= 3 ? body.notifications : undefined;
    }, 'three notifications kept');
    expect(listed.slice(0, 3).map((n) => [n.verdict, n.status])).toEqual([
      ['ignored', 202],
      ['invalid', 400],
      ['ignored', 202], // the pulls of the test before
    ]);
    expect(listed[0].reason).toBe('no tag pushed to a repository of a known feed');
    // Nothing a sender sent is kept but what the verdict's reason says.
    expect(JSON.stringify(listed)).not.toContain('pulled-tag-7');
    expect(logged).toEqual([]);
  });
});
