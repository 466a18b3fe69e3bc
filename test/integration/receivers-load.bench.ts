import { createHmac } from 'node:crypto';
import { ociFeed } from '../support/feeds';
import { startApi, TestApi } from '../support/api';
import { pushImage, TestRegistry } from '../support/registry';
import { startTestWorker, TestWorkerEnv } from '../support/temporal';
import { waitForReleases } from '../support/projects';

/**
 * `npm run bench:receivers` (kept out of `npm test`: it loads the machine for half a minute). A burst: 1,000 signed notifications in about 10 s for 50 watched packages. Every one is answered 202
 * without waiting on the registry; each trigger polls at most once per notification it got (signals that
 * arrive while a poll runs coalesce into one more), none releases twice, and the API keeps answering.
 */
const SECRET = 'L0ad-Hm4c-Secret';
const PACKAGES = 50;
const NOTIFICATIONS = 1000;
let registry: TestRegistry;
let env: TestWorkerEnv;
let api: TestApi;

beforeAll(async () => {
  registry = await TestRegistry.start();
  const feeds = new Map([['local', ociFeed('local', registry.url)]]);
  env = await startTestWorker({ feeds });
  api = await startApi(env, { receiverSecrets: new Map([['load', SECRET]]), feeds });
});
afterAll(async () => {
  await api?.close();
  await env?.stop();
  await registry?.stop();
});

test('1,000 notifications in 10 s for 50 packages: bounded polls, one release each, a responsive API', async () => {
  const url = (
    await api.request('POST', '/receivers', {
      name: 'load',
      type: 'generic-hmac',
      secret: { secret: 'load' },
    })
  ).body.url as string;
  const names = Array.from({ length: PACKAGES }, (_, i) => `p${i}`);
  await Promise.all(names.map((n) => pushImage(registry.url, `load/${n}`, '1.0.0')));
  for (const n of names) {
    await api.request('PUT', `/projects/${n}`, {
      packages: [{ name: 'app', feed: 'local', package: `load/${n}` }],
    });
    expect(
      (await api.request('POST', `/projects/${n}/triggers`, { name: 'app', intervalSeconds: 3600 })).status,
    ).toBe(201);
  }
  await Promise.all(names.map((n) => waitForReleases(env, n, 1, 60_000)));
  // Every package gets a new version, then its share of the burst.
  await Promise.all(names.map((n) => pushImage(registry.url, `load/${n}`, '1.1.0')));

  const statuses: number[] = [];
  const apiTimes: number[] = [];
  let bursting = true;
  const probe = (async () => {
    while (bursting) {
      const t = performance.now();
      const res = await api.request('GET', '/projects/p0');
      apiTimes.push(performance.now() - t);
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 20 }, async (_, lane) => {
      for (let i = lane; i < NOTIFICATIONS; i += 20) {
        // Paced: notification i leaves no earlier than i * 10 ms after the start (100 a second).
        const wait = started + i * 10 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const body = JSON.stringify({ feed: 'local', package: `load/${names[i % PACKAGES]}`, tag: '1.1.0' });
        const res = await fetch(`${api.url}${url}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
          },
          body,
        });
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    }),
  );
  const burstSeconds = (Date.now() - started) / 1000;
  bursting = false;
  await probe;
  expect(statuses.filter((s) => s !== 202)).toEqual([]);
  expect(statuses).toHaveLength(NOTIFICATIONS);

  // Each trigger released 1.1.0 once, and polled at most once per notification it was sent.
  const perTrigger = NOTIFICATIONS / PACKAGES;
  const polls: number[] = [];
  for (const n of names) {
    const releases = await waitForReleases(env, n, 2, 60_000);
    expect([n, releases.length, releases[0].packages[0].tag]).toEqual([n, 2, '1.1.0']);
    const history = (await api.request('GET', `/triggers/${n}/app/history`)).body.history as {
      source?: string;
    }[];
    const notified = history.filter((h) => h.source === 'webhook load').length;
    expect(notified).toBeGreaterThanOrEqual(1);
    expect(notified).toBeLessThanOrEqual(perTrigger);
    polls.push(notified);
  }
  const sorted = [...apiTimes].sort((a, b) => a - b);
  const p95 = sorted[Math.floor(sorted.length * 0.95)];
  process.stdout.write(
    `receivers load: ${NOTIFICATIONS} notifications in ${burstSeconds.toFixed(1)} s; polls per trigger median ` +
      `${[...polls].sort((a, b) => a - b)[PACKAGES / 2]} (max ${Math.max(...polls)}) for ${perTrigger} notifications; ` +
      `API read p95 ${p95.toFixed(0)} ms over ${apiTimes.length} reads\n`,
  );
  // Responsive: reads during the burst answered (a generous bound on a loaded 2-core machine).
  expect(p95).toBeLessThan(3000);
}, 180_000);
