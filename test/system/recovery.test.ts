import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { seedEmbeddedLedger } from '../support/database';
import { FaultProxy } from '../support/fault-proxy';
import { ociFeed } from '../support/feeds';
import { putProject, startTrigger, waitForReleases } from '../support/projects';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';
import { openDatabase } from '../../src/db/open';
import { Ledger } from '../../src/db/ledger';

/**
 * A worker killed with SIGKILL in the middle of a slow listing: its poll must be retried soon after a new
 * worker is up (the workflow task's or the activity's heartbeat timeout), not after the activity's
 * start-to-close timeout.
 */
let registry: TestRegistry;
let proxy: FaultProxy;
let child: ChildProcess | undefined;
let env: TestWorkerEnv | undefined;
const TAGS = /\/v2\/crash\/app\/tags\/list/;

beforeAll(async () => {
  registry = await TestRegistry.start();
  proxy = await FaultProxy.start(registry.url);
  await pushImage(registry.url, 'crash/app', '1.0.0');
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await env?.stop();
  await env?.database.close();
  await proxy?.close();
  await registry?.stop();
});

test('a trigger whose worker died mid-listing polls again within seconds of a new worker', async () => {
  const taskQueue = `recovery-${randomUUID()}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-recovery-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, `feeds:\n  - { id: proxied, url: "${proxy.url}" }\n`);
  // The project goes into the embedded ledger the service will open, which the next worker opens after it.
  const ledgerDir = seedEmbeddedLedger(dir);
  const before = await openDatabase({ dataDir: ledgerDir });
  const ledger = new Ledger(before.db);
  await putProject(
    { ledger },
    { name: 'recovery', packages: [{ name: 'app', feed: 'proxied', package: 'crash/app' }] },
  );
  // The first listing hangs: the worker dies in the middle of it.
  proxy.inject(TAGS, { kind: 'slow', ms: 120_000 });
  // Started as the API starts it, with the channel's view from the ledger (closed before the service opens it):
  // its first evaluation waits in the task queue for the service's worker.
  const starter = await startTestWorker({ taskQueue: `starter-${randomUUID()}` });
  try {
    await startTrigger(
      { client: starter.client, taskQueue, ledger },
      {
        project: 'recovery',
        name: 'app',
        intervalSeconds: 3600,
      },
    );
  } finally {
    await starter.stop();
    await before.close();
  }
  // The service as it runs in production, in a process of its own that we can kill -9.
  child = spawn(process.execPath, [path.resolve(__dirname, '../../dist/src/main.js')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: process.env.FEED_TRIGGERS_TEST_TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: process.env.FEED_TRIGGERS_TEST_NAMESPACE,
      FEED_TRIGGERS_TASK_QUEUE: taskQueue,
      FEED_TRIGGERS_API_PORT: '0',
      FEED_TRIGGERS_CONFIG: config,
      FEED_TRIGGERS_DATA_DIR: dir,
    },
    stdio: 'ignore',
  });
  await eventually(async () => (proxy.count(TAGS) >= 1 ? true : undefined), 'the first listing', 60_000);
  child.kill('SIGKILL');
  await new Promise((r) => child!.once('exit', r));
  const listings = proxy.count(TAGS);

  // A killed process leaves its lock file and an unclean database: both are taken over.
  const after = await openDatabase({ dataDir: ledgerDir });
  env = await startTestWorker({
    taskQueue,
    feeds: new Map([['proxied', ociFeed('proxied', proxy.url)]]),
    database: after,
  });
  const upAt = Date.now();
  await eventually(async () => (proxy.count(TAGS) > listings ? true : undefined), 'a new listing', 30_000);
  const recoveredMs = Date.now() - upAt;
  process.stdout.write(`recovery: next poll ${recoveredMs} ms after the new worker was up\n`);
  // The first poll runs in the trigger's workflow task, which the server times out 10 s after the dead worker
  // started it (TRIGGER_WORKFLOW_TASK_TIMEOUT; 8.6 s after the new worker was up, measured): far below the
  // activity's 2 minutes, with room for a loaded box.
  expect(recoveredMs).toBeLessThan(25_000);
  const [release] = await waitForReleases(env, 'recovery', 1, 30_000);
  expect(release.packages[0].tag).toBe('1.0.0');
});
