import { createHmac } from 'node:crypto';
import { ociFeed } from '../support/feeds';
import { startApi, TestApi } from '../support/api';
import { pushImage, TestRegistry } from '../support/registry';
import { startTestWorker, TestWorkerEnv } from '../support/temporal';
import { waitForReleases } from '../support/projects';
import { startServer, TestServer } from '../support/http-server';
import { receiverCases, SECRETS } from '../support/receivers';

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
let hub: TestServer;

beforeAll(async () => {
  registry = await TestRegistry.start();
  const feeds = new Map([['local', ociFeed('local', registry.url)]]);
  env = await startTestWorker({ feeds });
  api = await startApi(env, { receiverSecrets: new Map([...SECRETS, ['load', SECRET]]), feeds });
  hub = await startServer((_req, res) => void res.writeHead(200).end());
});
afterAll(async () => {
  await hub?.close();
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

test('push to release through each receiver type: median of 5', async () => {
  const lines: string[] = [];
  for (const c of receiverCases(
    () => registry.host,
    () => hub.url,
  )) {
    const project = `latency-${c.type}`;
    const created = await api.request('POST', '/receivers', {
      name: `latency-${c.type}`,
      type: c.type,
      ...c.extra,
    });
    expect(created.status).toBe(201);
    await pushImage(registry.url, c.repository, '1.0.0');
    await api.request('PUT', `/projects/${project}`, {
      packages: [{ name: 'app', feed: 'local', package: c.repository }],
    });
    await api.request('POST', `/projects/${project}/triggers`, { name: 'app', intervalSeconds: 3600 });
    await waitForReleases(env, project, 1, 60_000);
    const times: number[] = [];
    for (let k = 1; k <= 5; k++) {
      const tag = `1.${k}.0`;
      await pushImage(registry.url, c.repository, tag);
      const { body, headers } = c.notify(tag);
      const t0 = performance.now();
      const res = await fetch(`${api.url}${created.body.url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      expect(res.status).toBe(202);
      // The release is in the ledger: read every 20 ms.
      for (;;) {
        const page = await api.request('GET', `/projects/${project}/releases?limit=1`);
        if (page.body.releases[0]?.packages[0].tag === tag) break;
        if (performance.now() - t0 > 30_000) throw new Error(`${c.type}: no release of ${tag}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    lines.push(
      `${c.type}: median ${times[2].toFixed(0)} ms (min ${times[0].toFixed(0)}, max ${times[4].toFixed(0)})`,
    );
  }
  process.stdout.write(
    `push to release by receiver type (notification sent to release in the ledger):\n  ${lines.join('\n  ')}\n`,
  );
  expect(lines).toHaveLength(8);
}, 300_000);
