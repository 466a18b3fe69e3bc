import { execFileSync } from 'node:child_process';
import { DefaultLogger, LogEntry } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { TriggerState } from '../../src/domain/trigger';
import { basic } from '../support/feeds';
import { pushImage, TestRegistry } from '../support/registry';
import { putProject, startTrigger, waitForReleases } from '../support/projects';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SECRET = 'Sup3r-S3cret-Registry-Pa55';
const WRONG = 'Wr0ng-But-Still-S3cret';
const logs: string[] = [];
let registry: TestRegistry;
let env: TestWorkerEnv;

/** Every string in a history, with payload bytes decoded, so a secret cannot hide in base64 or bytes. */
function flatten(value: unknown, out: string[] = []): string[] {
  if (value instanceof Uint8Array)
    out.push(Buffer.from(value).toString('utf8'), Buffer.from(value).toString('base64'));
  else if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => flatten(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => flatten(v, out));
  return out;
}

beforeAll(async () => {
  const line = execFileSync('htpasswd', ['-nbB', '-C', '4', 'deployer', SECRET]).toString().trim();
  registry = await TestRegistry.start({ htpasswd: `${line}\n` });
  await pushImage(registry.url, 'secure/app', '1.0.0', { authorization: basic('deployer', SECRET) });
  // Credentials come from the worker's configuration file, the password from an environment variable.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-secrets-'));
  const configFile = path.join(dir, 'feed-triggers.yaml');
  writeFileSync(
    configFile,
    [
      'feeds:',
      '  - id: secure',
      `    url: ${registry.url}`,
      '    auth: { basic: { username: deployer, password: { env: SECURE_REGISTRY_PASSWORD } } }',
      '  - id: secure-wrong',
      `    url: ${registry.url}`,
      '    auth: { basic: { username: deployer, password: { file: wrong-password.txt } } }',
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'wrong-password.txt'), `${WRONG}\n`);
  const config = loadConfig({ FEED_TRIGGERS_CONFIG: configFile, SECURE_REGISTRY_PASSWORD: SECRET });
  const logger = new DefaultLogger('TRACE', (entry: LogEntry) =>
    logs.push(`${entry.message} ${JSON.stringify(entry.meta ?? {})}`),
  );
  env = await startTestWorker({ feeds: config.feeds, logger });
});
afterAll(async () => {
  await env?.stop();
  await registry?.stop();
});

test('no secret enters workflow history, search attributes, state or worker logs', async () => {
  const start = async (name: string, feed: string) => {
    await putProject(env, {
      name,
      packages: [{ name: 'app', feed, package: 'secure/app' }],
    });
    await startTrigger(env, { project: name, name: 'app', intervalSeconds: 60 });
    return env.client.workflow.getHandle(`trigger/${name}/app`);
  };
  const ok = await start('secret-ok', 'secure');
  const bad = await start('secret-bad', 'secure-wrong');
  const [release] = await waitForReleases(env, 'secret-ok', 1);
  expect(release.packages[0].tag).toBe('1.0.0');
  const released = await ok.query<TriggerState>('state');
  const failed = await eventually(async () => {
    const s = await bad.query<TriggerState>('state');
    return s.lastError ? s : undefined;
  }, 'the auth error');
  expect(failed.lastError?.code).toBe('UNAUTHORIZED');

  for (const handle of [ok, bad]) {
    await handle.signal('continueAsNew');
  }
  await new Promise((r) => setTimeout(r, 1000));
  const everything = [
    ...flatten(await ok.fetchHistory()),
    ...flatten(await bad.fetchHistory()),
    ...flatten(await ok.describe()),
    ...flatten(await env.client.workflow.getHandle(`release/secret-ok/${release.number}`).fetchHistory()),
    JSON.stringify(release),
    ...flatten(await bad.describe()),
    JSON.stringify(released),
    JSON.stringify(failed),
    ...logs,
  ].join('\n');
  expect(logs.length).toBeGreaterThan(0);
  expect(everything).toContain('secure/app'); // the haystack is real
  for (const secret of [
    SECRET,
    WRONG,
    Buffer.from(`deployer:${SECRET}`).toString('base64'),
    Buffer.from(`deployer:${WRONG}`).toString('base64'),
  ]) {
    expect(everything.includes(secret)).toBe(false);
  }
});
