import { Browser, Page } from 'playwright-core';
import { startApi, TestApi } from '../support/api';
import { CosignKey } from '../support/cosign';
import { startServer, TestServer } from '../support/http-server';
import { pushImage, TestRegistry } from '../support/registry';
import {
  axeViolations,
  HOSTILE,
  markDocument,
  openChromium,
  printFigures,
  pwned,
  RTL_SHOWN,
  sameDocument,
  shoot,
  signIn,
} from '../support/console';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * The console's pages that follow what happens without a person: a trigger's feed failing and coming back,
 * shown live; a signed release's Verified table; freezes and scheduled deployments. Debian's Chromium through
 * playwright-core against the real service, as console.test.ts (names here are its own: `live-…`).
 */
const PROJECT = 'live-shop';
const SIGNED = 'live-signed';

let env: TestWorkerEnv;
let api: TestApi;
let registry: TestRegistry;
let hook: TestServer;
let key: CosignKey;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];
const figures: Record<string, string> = {};

async function accessible(p: Page, name: string): Promise<void> {
  const { bad, summary } = await axeViolations(p);
  figures[`axe ${name}`] = summary;
  expect(bad).toEqual([]);
}

const releases = async (project: string) =>
  (await api.request('GET', `/projects/${project}/releases?limit=10`)).body.releases as Array<{
    number: string;
  }>;

beforeAll(async () => {
  hook = await startServer((_req, res) => void res.writeHead(202).end());
  env = await startTestWorker();
  api = await startApi(env, { database: env.database });
  registry = await TestRegistry.start();
  key = await CosignKey.generate();
  ({ browser, page } = await openChromium(dialogs));
  await signIn(page, api.url, api.token);
}, 180_000);

afterAll(async () => {
  printFigures('console-live', figures);
  await browser?.close();
  await api?.close();
  await env?.stop();
  await hook?.close();
  await registry?.stop();
  key?.remove();
});

test("a trigger's feed going away shows on its open project page without a reload, and its return too", async () => {
  await pushImage(registry.url, `${PROJECT}/web`, '1.0.0');
  const put = await api.request('PUT', `/projects/${PROJECT}`, {
    packages: [{ name: 'web', feed: registry.host, package: `${PROJECT}/web` }],
    environments: [{ name: 'prod', targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/deploy` }] }],
    lifecycles: [{ name: 'manual', phases: [{ name: 'prod', environments: ['prod'] }] }],
    lifecycle: 'manual',
  });
  expect(put.status).toBeLessThan(300);
  // Polled every 10 s on its own: nothing the test does through the API announces the failure below.
  expect(
    (await api.request('POST', `/projects/${PROJECT}/triggers`, { name: 'web', intervalSeconds: 10 })).status,
  ).toBe(201);
  await page.goto(`${api.url}/console/#/projects/${PROJECT}`);
  const card = page.locator('article[data-trigger="web"]');
  await page.locator('tr[data-release="0.0.1"]').waitFor({ timeout: 60_000 });
  await card.locator('.badge.active').waitFor({ timeout: 30_000 });
  await markDocument(page);

  const stopped = Date.now();
  await registry.halt();
  // The first failed try shows (error), then the retries (retrying) and their end (error): any of them.
  await card.locator('.badge.error, .badge.retrying').waitFor({ timeout: 60_000 });
  const shownAt = Date.now();
  figures['registry stopped → trigger card shows the failure (a 10 s poll interval)'] =
    `${shownAt - stopped} ms`;
  // From the failure the trigger recorded to the page showing it: the announcement's way to the page.
  const failed = (await api.request('GET', `/triggers/${PROJECT}/web`)).body as {
    packages: Record<string, { error: { at: string } | null }>;
  };
  const failedAt = failed.packages.web.error?.at;
  if (failedAt) figures['failure recorded → trigger card shows it'] = `${shownAt - Date.parse(failedAt)} ms`;
  await card
    .locator('table tbody tr')
    .filter({ hasText: 'could not be reached' })
    .waitFor({ timeout: 30_000 });
  await accessible(page, 'project, trigger failing');
  await shoot(page, 'project-trigger-failing');

  const back = Date.now();
  await registry.restart();
  await card.locator('.badge.active').waitFor({ timeout: 60_000 });
  figures['registry back → trigger card active again'] = `${Date.now() - back} ms`;
  await eventually(
    async () => ((await card.locator('table tbody tr td').nth(2).textContent()) === '' ? true : undefined),
    'the error cell cleared',
    30_000,
  );
  expect(await sameDocument(page)).toBe(true);
}, 180_000);

test("the release page's Verified table names the signing key, its fingerprint and the platforms checked", async () => {
  const digest = await pushImage(registry.url, `${SIGNED}/web`, '1.0.0', {
    config: { os: 'linux', architecture: 'arm64', rootfs: { type: 'layers', diff_ids: [] } },
  });
  await key.sign(registry.host, `${SIGNED}/web`, digest);
  const put = await api.request('PUT', `/projects/${SIGNED}`, {
    packages: [{ name: 'web', feed: registry.host, package: `${SIGNED}/web` }],
    channels: [
      {
        name: 'default',
        rules: [{ signatures: { keys: { 'release-2026': key.publicKey } }, platforms: ['linux/arm64'] }],
      },
    ],
  });
  expect(put.status).toBeLessThan(300);
  expect(
    (await api.request('POST', `/projects/${SIGNED}/triggers`, { name: 'web', intervalSeconds: 3600 }))
      .status,
  ).toBe(201);
  const [release] = await eventually(
    async () => ((await releases(SIGNED)).length === 1 ? releases(SIGNED) : undefined),
    'the signed release',
    60_000,
  );
  const shown = (await api.request('GET', `/projects/${SIGNED}/releases/${release.number}`)).body as {
    verified: Array<{ key: { fingerprint: string } | null }>;
  };
  const fingerprint = shown.verified.find((v) => v.key)!.key!.fingerprint;
  expect(fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);

  await page.goto(`${api.url}/console/#/projects/${SIGNED}/releases/${release.number}`);
  const table = page.locator('table.verified');
  await table.waitFor();
  const rows = await table
    .locator('tbody tr')
    .evaluateAll((trs) =>
      trs.map((tr) =>
        [...tr.querySelectorAll('th, td')].slice(0, 5).map((c) => (c.textContent ?? '').trim()),
      ),
    );
  // One verdict per image and rule: the key that signed it, and the platforms it was checked for.
  expect(rows).toEqual([
    ['web', digest, 'signed by key release-2026; platforms linux/arm64', 'release-2026', fingerprint],
  ]);
  await accessible(page, 'release, verified');
  await shoot(page, 'release-verified');
}, 120_000);

test('freezes: an admin creates and deletes one with hostile fields refused or shown as text; a viewer only reads', async () => {
  await page.getByRole('link', { name: 'Freezes' }).click();
  await page.getByRole('heading', { name: 'Freezes' }).waitFor();
  const form = page.locator('form.freeze-form');
  // Each refusal below names another field, so waiting for the one named cannot match the one before.
  const refused = async (field: string) => {
    await page.getByRole('button', { name: 'Save freeze' }).click();
    await page.getByRole('alert').filter({ hasText: field }).waitFor();
  };
  const saved = async (name: string) => {
    await page.getByRole('button', { name: 'Save freeze' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Saved ${name}` })
      .waitFor();
  };
  // Hostile values in every field: each is refused by the API, which names the field.
  await form.getByLabel('Name').fill(HOSTILE.markup);
  await refused('name');
  await form.getByLabel('Name').fill('live-holidays');
  await form.getByLabel('Description').fill(`Holidays ${HOSTILE.markup} ${HOSTILE.link} ${HOSTILE.rtl}`);
  await form.getByLabel('Time zone').fill(HOSTILE.rtl);
  await refused('timeZone');
  await form.getByLabel('Time zone').fill('Europe/Berlin');
  await form.getByLabel("Start (on the zone's clock)").fill(HOSTILE.link.slice(0, 19));
  await form.getByLabel('End', { exact: true }).fill('2099-01-02T00:00');
  await refused('start');
  await form.getByLabel("Start (on the zone's clock)").fill('2020-01-01T00:00');
  await form.getByLabel('Projects (empty: every project)').fill(`${PROJECT}, ${HOSTILE.rtl}`);
  await refused('projects');
  await form.getByLabel('Projects (empty: every project)').fill(PROJECT);
  await form.getByLabel('Environments (empty: every environment)').fill('prod');
  await saved('live-holidays');
  // A weekly one with no days, then a good one.
  await form.getByLabel('Name').fill('live-weekends');
  await form.getByLabel('Repeats').selectOption('weekly');
  await form.getByLabel('Days').fill(`sat, ${HOSTILE.rtl}`);
  await form.getByLabel('From').fill('00:00');
  await form.getByLabel('Until').fill('00:00');
  await refused('days');
  await form.getByLabel('Days').fill('sat, sun');
  await saved('live-weekends');

  const holidays = page.locator('tr[data-freeze="live-holidays"]');
  await holidays.waitFor();
  expect(await holidays.getAttribute('data-active')).toBe('true');
  const text = (await holidays.textContent()) ?? '';
  expect(text).toContain(HOSTILE.markup);
  expect(text).toContain(RTL_SHOWN);
  expect(text).not.toContain('\u202E');
  expect(text).toContain('2020-01-01T00:00 to 2099-01-02T00:00');
  expect(text).toContain(`${PROJECT}; prod`);
  expect(await holidays.locator('.badge').textContent()).toBe('active');
  await expect(page.locator('tr[data-freeze="live-weekends"] .when').textContent()).resolves.toBe(
    'weekly on sat, sun, 00:00 to 00:00',
  );
  expect(await page.locator('img').count()).toBe(0);
  expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
  await accessible(page, 'freezes');
  await shoot(page, 'freezes');

  // A viewer reads them, with no form and no delete button; the API refuses a viewer's write anyway.
  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await signIn(viewer, api.url, await api.tokenFor('viewer'));
  await viewer.goto(`${api.url}/console/#/freezes`);
  await viewer.locator('tr[data-freeze="live-holidays"]').waitFor();
  expect(await viewer.getByRole('button', { name: /Delete|Save/ }).count()).toBe(0);
  await viewerContext.close();
  expect(
    (
      await api.request('DELETE', '/freezes/live-weekends', undefined, {
        token: await api.tokenFor('viewer'),
      })
    ).status,
  ).toBe(403);

  await page.getByRole('button', { name: 'Delete freeze live-weekends' }).click();
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.locator('tr[data-freeze="live-weekends"]').waitFor({ state: 'detached' });
  expect((await api.request('GET', '/freezes/live-weekends')).status).toBe(404);
  expect(dialogs).toEqual([]);
  expect(await pwned(page)).toBe(false);
}, 120_000);

test('a scheduled deployment shows its time and expiry on the release page and in the environment’s history, and is cancelled from either', async () => {
  // The freeze of the test before covers live-shop's prod: take it away, so the deploy requests are the subject.
  expect((await api.request('DELETE', '/freezes/live-holidays')).status).toBe(200);
  const at = new Date(Date.now() + 86_400_000);
  at.setUTCSeconds(0, 0);
  const expiry = new Date(at.getTime() + 3_600_000);
  const schedule = () =>
    api.request('POST', `/projects/${PROJECT}/releases/0.0.1/deployments`, {
      environment: 'prod',
      deployAt: at.toISOString(),
      deployAtExpiry: expiry.toISOString(),
    });
  expect((await schedule()).status).toBe(202);
  const when = `at ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC, cancelled if not started by ${expiry
    .toISOString()
    .slice(0, 16)
    .replace('T', ' ')} UTC`;

  await page.goto(`${api.url}/console/#/projects/${PROJECT}/releases/0.0.1`);
  const scheduled = page.locator('li[data-state="scheduled"]');
  await scheduled.waitFor();
  await expect(scheduled.locator('.when').textContent()).resolves.toBe(` ${when}`);
  await accessible(page, 'release, scheduled');
  await shoot(page, 'release-scheduled');
  await page.getByRole('button', { name: 'Cancel prod' }).click();
  await page.locator('li[data-state="cancelled"]').waitFor();
  expect(await scheduled.count()).toBe(0);

  expect((await schedule()).status).toBe(202);
  await page.getByRole('link', { name: 'Environments' }).click();
  await page.getByRole('button', { name: `Show history of prod in ${PROJECT}` }).click();
  const history = page.getByRole('region', { name: `History of prod in ${PROJECT}` });
  const row = history.locator('tr[data-status="scheduled"]');
  await row.waitFor();
  await expect(row.locator('.when').textContent()).resolves.toBe(` ${when}`);
  await accessible(page, 'environments, scheduled');
  await shoot(page, 'environments-scheduled');
  await row.getByRole('button', { name: `Cancel 0.0.1 in prod` }).click();
  await history.locator('tr[data-status="cancelled"]').nth(1).waitFor();
  expect(await history.locator('tr[data-status="scheduled"]').count()).toBe(0);
  const listed = await api.request('GET', `/projects/${PROJECT}/releases/0.0.1/deployments`);
  expect(listed.body.deployments.map((d: { status: string }) => d.status)).toEqual([
    'cancelled',
    'cancelled',
  ]);
}, 120_000);
