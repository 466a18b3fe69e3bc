import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { findTemporalCli } from '../../src/temporal/cli';
import { startServer, TestServer } from '../support/http-server';
import { putProject, startTrigger, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker } from '../support/temporal';

/**
 * Replays recorded workflow histories with today's workflow code: a change that breaks determinism
 * for running triggers, releases or destination queues fails here (trigger-before-ledger.json: a trigger
recorded before the ledger moved to the database, which must keep running after the upgrade; trigger-remote-poll.json: idle polls as activities, before they
 * ran as local activities first). Record new fixtures (after an intended,
 * versioned change) with `RECORD_HISTORIES=1 npx jest test/integration/replay`.
 */
const FIXTURES = path.resolve(__dirname, '../fixtures/histories');

async function record(): Promise<void> {
  const registry = await TestRegistry.start();
  let hook: TestServer | undefined;
  const env = await startTestWorker();
  try {
    hook = await startServer((_req, res) => void res.writeHead(200).end());
    await pushImage(registry.url, 'replay/web', '1.0.0');
    await pushImage(registry.url, 'replay/worker', '2.0.0');
    await putProject(env, {
      name: 'replay',
      packages: [
        { name: 'web', feed: registry.host, package: 'replay/web' },
        { name: 'worker', feed: registry.host, package: 'replay/worker' },
      ],
      channels: [{ name: 'default', rules: [{ packages: ['web'], range: '^1.0.0' }] }],
      destinations: [{ name: 'hook', type: 'webhook', url: `${hook.url}/hook` }],
    });
    const state = await startTrigger(env.client, env.taskQueue, {
      project: 'replay',
      name: 'web',
      watch: ['web'],
      intervalSeconds: 600,
    });
    await waitForReleases(env, 'replay', 1);
    const trigger = env.client.workflow.getHandle('trigger/replay/web');
    await trigger.signal('pause');
    await pushImage(registry.url, 'replay/web', '1.1.0');
    await trigger.signal('resume');
    await waitForReleases(env, 'replay', 2);
    await trigger.signal('pollNow');
    await eventually(
      async () => ((await state()).iterations >= 3 ? true : undefined),
      'a no-change evaluation',
    );
    const release = env.client.workflow.getHandle('release/replay/0.0.2');
    await release.result();
    const destination = env.client.workflow.getHandle('destination/replay/hook');
    await destination.result();
    for (const [file, handle] of [
      ['trigger.json', trigger],
      ['release.json', release],
      ['destination.json', destination],
    ] as const) {
      // The Temporal CLI's JSON export, the format `temporal workflow show --output json` gives operators too.
      const json = execFileSync(findTemporalCli()!, [
        'workflow',
        'show',
        '--address',
        process.env.FEED_TRIGGERS_TEST_TEMPORAL_ADDRESS!,
        '--namespace',
        process.env.FEED_TRIGGERS_TEST_NAMESPACE!,
        '-w',
        handle.workflowId,
        '--output',
        'json',
      ]);
      writeFileSync(path.join(FIXTURES, file), json);
    }
    await trigger.terminate('recorded');
  } finally {
    await env.stop();
    await hook?.close();
    await registry.stop();
  }
}

test('replays recorded trigger, release and destination histories without nondeterminism', async () => {
  if (process.env.RECORD_HISTORIES === '1') await record();
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
  expect(files.sort()).toEqual([
    'destination.json',
    'release.json',
    'trigger-before-ledger.json',
    'trigger-remote-poll.json',
    'trigger.json',
  ]);
  const script = path.resolve(__dirname, '../../dist/scripts/replay-histories.js');
  const { stdout } = await promisify(execFile)(process.execPath, [
    script,
    FIXTURES,
    process.env.FEED_TRIGGERS_TEST_BUNDLE!,
  ]);
  expect(stdout.trim().split('\n')).toEqual([
    'replayed destination.json',
    'replayed release.json',
    'replayed trigger-before-ledger.json',
    'replayed trigger-remote-poll.json',
    'replayed trigger.json',
  ]);
}, 120_000);
