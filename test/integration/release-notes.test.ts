import { pollTriggerNow } from '../../workflows/contracts/client';
import { triggerWorkflowId } from '../../workflows/contracts/ids';
import { startApi, TestApi } from '../support/api';
import { startServer, TestServer } from '../support/http-server';
import { putProject, startTrigger, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let env: TestWorkerEnv;
let api: TestApi;
let registry: TestRegistry;
let hook: TestServer;

beforeAll(async () => {
  hook = await startServer((_req, res) => void res.writeHead(202).end());
  registry = await TestRegistry.start();
  env = await startTestWorker();
  api = await startApi(env);
});
afterAll(async () => {
  await api?.close();
  await env?.stop();
  await registry?.stop();
  await hook?.close();
});

const TEMPLATE = [
  '#{Project.Name} #{Release.Number}, by trigger #{Release.Trigger}#{if Release.Notification} on #{Release.Notification}#{/if}',
  '#{each p in Release.Packages}',
  '- #{p.Name} #{p.Version}#{if p.Changed} (was #{p.PreviousVersion})#{/if}',
  '#{/each}',
  'Previous release #{Release.Previous.Number}:',
  '#{each p in Release.Previous.Packages}',
  '- #{p.Name} #{p.Version}',
  '#{/each}',
].join('\n');

/** The JSON bodies the hook received at a path, oldest first. */
const received = (path: string) =>
  hook.requests.filter((r) => r.url === path).map((r) => JSON.parse(r.body) as Record<string, unknown>);

test("a push makes a release whose notes list both packages, the previous release's versions and the trigger; the webhook delivery and the deployment carry them", async () => {
  const name = 'notes-shop';
  await pushImage(registry.url, `${name}/web`, '1.0.0');
  await pushImage(registry.url, `${name}/db`, '2.0.0');
  const spec = {
    name,
    packages: [
      { name: 'web', feed: registry.host, package: `${name}/web` },
      { name: 'db', feed: registry.host, package: `${name}/db` },
    ],
    destinations: [{ name: 'hook', type: 'webhook' as const, url: `${hook.url}/release` }],
    environments: [
      { name: 'dev', targets: [{ name: 'hook', type: 'webhook' as const, url: `${hook.url}/deploy` }] },
    ],
    lifecycles: [{ name: 'auto', phases: [{ name: 'dev', environments: ['dev'], automatic: true }] }],
    lifecycle: 'auto',
  };
  // The first release comes before the channel has a template: it has no notes, and its payloads none.
  await putProject(env, spec);
  await startTrigger(env, { project: name, name: 'images', intervalSeconds: 3600 });
  const [first] = await waitForReleases(env, name, 1);
  expect((await api.request('GET', `/projects/${name}/releases/${first.number}`)).body.notes).toBeNull();
  await eventually(async () => (received('/release').length >= 1 ? true : undefined), 'first delivery');
  expect(received('/release')[0]).not.toHaveProperty('notes');

  const saved = await api.request('PUT', `/projects/${name}`, {
    ...spec,
    channels: [{ name: 'default', releaseNotes: TEMPLATE }],
  });
  expect(saved.status).toBe(200);
  await pushImage(registry.url, `${name}/web`, '1.1.0');
  // As a receiver tells a trigger of a push (its name as the source).
  await pollTriggerNow(env.client, triggerWorkflowId(name, 'images'), { source: 'webhook notes-hub' });
  const [second] = await waitForReleases(env, name, 2);

  const expected = [
    `${name} ${second.number}, by trigger images on webhook notes-hub`,
    '- web 1.1.0 (was 1.0.0)',
    '- db 2.0.0',
    `Previous release ${first.number}:`,
    '- web 1.0.0',
    '- db 2.0.0',
    '',
  ].join('\n');
  const shown = await api.request('GET', `/projects/${name}/releases/${second.number}`);
  expect(shown.body.notes).toBe(expected);
  const deliveries = await eventually(async () => {
    const bodies = received('/release').filter((b) => b.release === second.number);
    return bodies.length > 0 ? bodies : undefined;
  }, 'the second release delivered');
  expect(deliveries[0].notes).toBe(expected);
  const deployments = await eventually(async () => {
    const bodies = received('/deploy').filter((b) => b.release === second.number);
    return bodies.length > 0 ? bodies : undefined;
  }, 'the second release deployed to dev');
  expect(deployments[0]).toMatchObject({ environment: 'dev', notes: expected });
  // Listings stay light: notes are read one release at a time.
  const listed = await api.request('GET', `/projects/${name}/releases`);
  expect(listed.body.releases[0]).not.toHaveProperty('notes');
});

test('a template naming an unknown variable is a 400 naming the field, the line and the column', async () => {
  const res = await api.request('PUT', '/projects/notes-refused', {
    name: 'notes-refused',
    packages: [{ name: 'web', feed: registry.host, package: 'notes-refused/web' }],
    channels: [{ name: 'default', releaseNotes: 'Release #{Release.Number}\n  #{constructor}' }],
  });
  expect(res.status).toBe(400);
  expect(res.body.errors).toEqual([
    expect.objectContaining({
      field: 'channels.0.releaseNotes',
      message: 'unknown variable "constructor" at line 2, column 3',
    }),
  ]);
  expect((await api.request('GET', '/projects/notes-refused')).status).toBe(404);
});
