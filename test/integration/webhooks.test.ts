import { randomUUID } from 'node:crypto';
import { triggerWorkflowId } from '../../workflows/contracts/ids';
import { startApi, TestApi } from '../support/api';
import { putProject, startTrigger, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

const TOKEN = 'registry-notify-token-42';
let env: TestWorkerEnv;
let api: TestApi;
let registry: TestRegistry;

beforeAll(async () => {
  env = await startTestWorker();
  api = await startApi(env, { webhookToken: TOKEN });
  // The real registry notifies the API of every push, as a production registry would.
  registry = await TestRegistry.start({ notify: { url: `${api.url}/webhooks/registry`, token: TOKEN } });
});
afterAll(async () => {
  await registry?.stop();
  await api?.close();
  await env?.stop();
});

test('a push notification releases within seconds, long before the next scheduled poll', async () => {
  await pushImage(registry.url, 'hooked/app', '1.0.0');
  await putProject(env, {
    name: 'hooked',
    packages: [{ name: 'app', feed: registry.host, package: 'hooked/app' }],
  });
  await startTrigger(env, { project: 'hooked', name: 'app', intervalSeconds: 3600 });
  await waitForReleases(env, 'hooked', 1);
  // Visibility must list the trigger under its package before a notification can find it.
  await new Promise((r) => setTimeout(r, 1500));
  const pushedAt = Date.now();
  await pushImage(registry.url, 'hooked/app', '1.1.0');
  const releases = await waitForReleases(env, 'hooked', 2, 15_000);
  expect(releases[0].packages[0].tag).toBe('1.1.0');
  // The trigger's interval is an hour: only the notification can have made this release.
  expect(Date.now() - pushedAt).toBeLessThan(15_000);
});

test('refuses notifications without the token, and bodies that are not notifications', async () => {
  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${api.url}/webhooks/registry`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json', ...headers },
      body,
    });
  expect((await post('{"events":[]}', {})).status).toBe(401);
  expect((await post('{"events":[]}', { authorization: 'Bearer wrong' })).status).toBe(401);
  const bad = await post('{"events":[{"action":"push","target":{"repository":"Bad Repo"}}]}', {
    authorization: `Bearer ${TOKEN}`,
  });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { errors: { field: string }[] }).errors[0].field).toBe(
    'events.0.target.repository',
  );
  const ok = await post(
    JSON.stringify({
      events: [
        {
          action: 'push',
          target: { repository: 'nobody/watches', tag: '1.0.0' },
          request: { host: 'example.com' },
        },
      ],
    }),
    { authorization: `Bearer ${TOKEN}` },
  );
  expect(ok.status).toBe(202);
  expect(await ok.json()).toEqual({ packages: ['example.com/nobody/watches'], triggers: [] });
});

test('a replayed notification is acknowledged and ignored: its event id again, or its body re-spaced; one told to nobody is not remembered', async () => {
  await pushImage(registry.url, 'replayed/app', '1.0.0');
  await putProject(env, {
    name: 'webhook-replays',
    packages: [{ name: 'app', feed: registry.host, package: 'replayed/app' }],
  });
  await startTrigger(env, {
    project: 'webhook-replays',
    name: 'app',
    intervalSeconds: 3600,
  });
  await waitForReleases(env, 'webhook-replays', 1);
  // Visibility must list the trigger under its package before a notification can find it.
  await new Promise((r) => setTimeout(r, 1500));
  const post = async (body: string) => {
    const res = await fetch(`${api.url}/webhooks/registry`, {
      method: 'POST',
      headers: {
        'content-type': 'application/vnd.docker.distribution.events.v1+json',
        authorization: `Bearer ${TOKEN}`,
      },
      body,
    });
    // `pending` lists triggers whose signal was still on its way after 100 ms (a loaded box): they were told,
    // as `triggers` says, so the answers compare without it.
    const answer = (await res.json()) as Record<string, unknown>;
    delete answer.pending;
    return [res.status, answer];
  };
  const notification = (repository: string, id = randomUUID()) => ({
    events: [
      {
        id,
        timestamp: '2026-12-06T07:00:00.000000000Z',
        action: 'push',
        target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository, tag: '1.0.0' },
        request: { host: registry.host, method: 'PUT' },
      },
    ],
  });
  const handle = env.client.workflow.getHandle(triggerWorkflowId('webhook-replays', 'app'));
  const signals = async () =>
    (await handle.fetchHistory()).events!.filter((e) => e.workflowExecutionSignaledEventAttributes).length;

  // Told to nobody (no trigger watches the package): the same notification again is not a replay.
  const unwatched = JSON.stringify(notification('replayed/nobody'));
  for (let i = 0; i < 2; i++)
    expect(await post(unwatched)).toEqual([
      202,
      { packages: [`${registry.host}/replayed/nobody`], triggers: [] },
    ]);

  const first = notification('replayed/app');
  const before = await signals();
  expect(await post(JSON.stringify(first))).toEqual([
    202,
    { packages: [`${registry.host}/replayed/app`], triggers: ['trigger/webhook-replays/app'] },
  ]);
  await eventually(async () => ((await signals()) === before + 1 ? true : undefined), 'the signal');
  const [event] = first.events;
  const ignored = [
    202,
    { packages: [`${registry.host}/replayed/app`], triggers: [], ignored: 'a replayed notification' },
  ];
  for (const [what, body] of [
    ['the same notification', JSON.stringify(first)],
    [
      're-spaced, its keys in another order',
      JSON.stringify(
        { events: [{ ...event, id: event.id }] },
        [
          'events',
          'request',
          'method',
          'host',
          'target',
          'tag',
          'repository',
          'mediaType',
          'action',
          'timestamp',
          'id',
        ],
        '\t',
      ),
    ],
    [
      'its event id in another body',
      JSON.stringify({ events: [{ ...event, timestamp: '2026-12-06T07:00:01Z' }] }),
    ],
  ] as const)
    expect([what, ...(await post(body))]).toEqual([what, ...ignored]);
  await new Promise((r) => setTimeout(r, 1500));
  expect(await signals()).toBe(before + 1);
  // A new event is acted on.
  expect((await post(JSON.stringify(notification('replayed/app'))))[1]).toMatchObject({
    triggers: ['trigger/webhook-replays/app'],
  });
  // A batch holding an event acted on before and a new one is a new delivery: the new push is not dropped.
  const batch = { events: [event, ...notification('replayed/app').events] };
  expect(await post(JSON.stringify(batch))).toEqual([
    202,
    { packages: [`${registry.host}/replayed/app`], triggers: ['trigger/webhook-replays/app'] },
  ]);
  // That batch again is a replay.
  expect(await post(JSON.stringify(batch))).toEqual(ignored);
});
