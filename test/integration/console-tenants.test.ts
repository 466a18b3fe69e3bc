import { randomUUID } from 'node:crypto';
import { Browser, Page } from 'playwright-core';
import { ProjectSpecInput } from '../../src/domain/project';
import { startApi, TestApi } from '../support/api';
import {
  axeViolations,
  followChanges,
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
import { startServer, TestServer } from '../support/http-server';
import { recordWebRelease } from '../support/projects';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * The console's tenant pages, scheduling from the release page, freezes and tenants changed by another
 * client showing on an open page, and a release's rendered notes: Debian's Chromium through playwright-core
 * against the real service (names here are this file's own: `ct-…`). The browser runs in Asia/Kolkata
 * (UTC+05:30), so a time typed on its clock and the UTC instant the API records differ visibly.
 */
const PROJECT = 'ct-saas';
const ZONE_OFFSET_MS = 330 * 60_000;

let env: TestWorkerEnv;
let api: TestApi;
let hook: TestServer;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];
const figures: Record<string, string> = {};

async function accessible(p: Page, name: string): Promise<void> {
  const { bad, summary } = await axeViolations(p);
  figures[`axe ${name}`] = summary;
  expect(bad).toEqual([]);
}

/** Nothing hostile became markup or a link, and nothing ran. */
async function harmless(p: Page): Promise<void> {
  expect(await p.locator('img').count()).toBe(0);
  expect(await p.locator('a[href^="javascript:"]').count()).toBe(0);
  expect(await pwned(p)).toBe(false);
}

/** Opens a console page and waits until it follows the change stream, so no change after this is missed. */
async function open(p: Page, hash: string): Promise<void> {
  await p.goto(`${api.url}/console/#${hash}`);
  await p.locator('.dot.on').waitFor();
}

/** A `datetime-local` value on the browser's clock (UTC+05:30) for an instant. */
const onBrowserClock = (at: Date) => new Date(at.getTime() + ZONE_OFFSET_MS).toISOString().slice(0, 16);
/** An instant as the console writes it in UTC. */
const utcText = (at: Date) => `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/**
 * A tenanted project: staging deploys by itself to each tenant connected there, prod asks for an approval;
 * both call a webhook. The channel's release-notes template takes the release's tags and trigger.
 */
function project(name = PROJECT): ProjectSpecInput {
  const target = (name: string) => [{ name: 'hook', type: 'webhook' as const, url: `${hook.url}/${name}` }];
  return {
    name,
    packages: [{ name: 'web', feed: 'registry.example', package: `${name}/web` }],
    channels: [
      {
        name: 'default',
        releaseNotes:
          '#{Project.Name} #{Release.Number} by trigger #{Release.Trigger}: #{Release.Reason}\n' +
          '#{each p in Release.Packages}\n- #{p.Name} #{p.Version}\n#{/each}',
      },
    ],
    environments: [
      { name: 'staging', targets: target('staging') },
      { name: 'prod', targets: target('prod') },
    ],
    lifecycles: [
      {
        name: 'standard',
        phases: [
          { name: 'staging', environments: ['staging'], automatic: true },
          { name: 'prod', environments: ['prod'], approval: true },
        ],
      },
    ],
    lifecycle: 'standard',
    tenantedDeployments: 'tenanted',
    tenants: [
      { tenant: 'ct-acme', environments: ['staging', 'prod'] },
      { tenant: 'ct-globex', environments: ['staging', 'prod'] },
      { tenant: 'ct-initech', environments: ['prod'] },
    ],
  };
}

beforeAll(async () => {
  hook = await startServer((_req, res) => void res.writeHead(200).end());
  env = await startTestWorker();
  // The API listens on the worker's database, so what the worker records reaches the open pages.
  api = await startApi(env, { database: env.database });
  ({ browser, page } = await openChromium(dialogs, { timezoneId: 'Asia/Kolkata' }));
  await signIn(page, api.url, api.token);
}, 180_000);

afterAll(async () => {
  printFigures('console-tenants', figures);
  await browser?.close();
  await api?.close();
  await env?.stop();
  await hook?.close();
});

test('tenants: an admin creates, changes and deletes them with hostile fields refused or shown as text; a viewer only reads', async () => {
  await page.getByRole('link', { name: 'Tenants' }).click();
  await page.getByRole('heading', { name: 'Tenants', exact: true }).waitFor();
  const form = page.locator('form.tenant-form');
  // Each refusal names another field, so waiting for the one named cannot match the one before.
  const refused = async (field: string) => {
    await page.getByRole('button', { name: 'Save tenant' }).click();
    await page.getByRole('alert').filter({ hasText: field }).waitFor();
  };
  const saved = async (text: string) => {
    await page.getByRole('button', { name: 'Save tenant' }).click();
    await page.getByRole('status').filter({ hasText: text }).waitFor();
  };
  await form.getByLabel('Name').fill(`a${'<b>'.repeat(3333)}`);
  await refused('name');
  await form.getByLabel('Name').fill('ct-acme');
  await form.getByLabel('Description').fill(`${HOSTILE.rtl}${'x'.repeat(10_000)}`);
  await refused('description');
  await form.getByLabel('Description').fill(`ACME ${HOSTILE.markup} ${HOSTILE.link} ${HOSTILE.rtl}`);
  await form.getByLabel(/^Tags/).fill(`region/eu, ${HOSTILE.markup}`);
  await refused('tags.1');
  await accessible(page, 'tenants, a refusal');
  await form.getByLabel(/^Tags/).fill('region/eu');
  await saved('Created ct-acme');
  for (const [name, tags] of [
    ['ct-globex', ['region/us', 'tier/gold']],
    ['ct-initech', ['region/eu']],
    ['ct-spare', []],
  ] as const) {
    const res = await api.request('PUT', `/tenants/${name}`, { description: name, tags });
    expect(res.status).toBe(201);
  }
  // Tags changed in place: the name is the resource's and stays.
  const acme = page.locator('tr[data-tenant="ct-acme"]');
  await acme.waitFor();
  await page.getByRole('button', { name: 'Edit ct-acme' }).click();
  expect(await form.getByLabel('Name').isDisabled()).toBe(true);
  await form.getByLabel(/^Tags/).fill('region/eu, tier/gold');
  await saved('Saved ct-acme');
  await acme.locator('.tags', { hasText: 'tier/gold' }).waitFor();
  const shown = (await acme.locator('.description').textContent()) ?? '';
  expect(shown).toBe(`ACME ${HOSTILE.markup} ${HOSTILE.link} ${RTL_SHOWN}`);
  expect(await acme.locator('.tags .badge').allTextContents()).toEqual(['region/eu', 'tier/gold']);
  await harmless(page);
  await accessible(page, 'tenants');
  await shoot(page, 'tenants');

  // A viewer reads them, with no form and no button; the API refuses a viewer's write anyway.
  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await signIn(viewer, api.url, await api.tokenFor('viewer'));
  await viewer.goto(`${api.url}/console/#/tenants`);
  await viewer.locator('tr[data-tenant="ct-acme"]').waitFor();
  expect(await viewer.getByRole('button', { name: /Edit|Delete|Save/ }).count()).toBe(0);
  expect(await viewer.locator('form').count()).toBe(0);
  await accessible(viewer, 'tenants, viewer');
  await viewerContext.close();
  const token = await api.tokenFor('viewer');
  expect((await api.request('DELETE', '/tenants/ct-spare', undefined, { token })).status).toBe(403);
  expect((await api.request('PUT', '/tenants/ct-spare', { tags: [] }, { token })).status).toBe(403);

  await page.getByRole('button', { name: 'Delete tenant ct-spare' }).click();
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.locator('tr[data-tenant="ct-spare"]').waitFor({ state: 'detached' });
  expect((await api.request('GET', '/tenants/ct-spare')).status).toBe(404);
  expect(dialogs).toEqual([]);
}, 120_000);

test('a freeze or a tenant another client writes shows on the open page without a reload, and its deletion too', async () => {
  await open(page, '/freezes');
  await page.getByRole('heading', { name: 'Freezes' }).waitFor();
  await markDocument(page);
  const freeze = page.locator('tr[data-freeze="ct-live"]');
  const put = await api.request('PUT', '/freezes/ct-live', {
    description: `Live ${HOSTILE.markup}`,
    timeZone: 'UTC',
    start: '2099-01-01T00:00',
    end: '2099-01-02T00:00',
    projects: [PROJECT],
  });
  expect(put.status).toBe(201);
  await freeze.waitFor();
  expect(await freeze.getAttribute('data-active')).toBe('false');
  expect(await freeze.textContent()).toContain(`Live ${HOSTILE.markup}`);
  expect((await api.request('DELETE', '/freezes/ct-live')).status).toBe(200);
  await freeze.waitFor({ state: 'detached' });

  await page.getByRole('link', { name: 'Tenants' }).click();
  const tenant = page.locator('tr[data-tenant="ct-live"]');
  await page.locator('tr[data-tenant="ct-acme"]').waitFor();
  expect((await api.request('PUT', '/tenants/ct-live', { description: 'live', tags: [] })).status).toBe(201);
  await tenant.waitFor();
  expect((await api.request('DELETE', '/tenants/ct-live')).status).toBe(200);
  await tenant.waitFor({ state: 'detached' });
  expect(await sameDocument(page)).toBe(true);
  await harmless(page);
}, 60_000);

test('freeze and tenant writes are announced on /events by kind only; refused ones are not', async () => {
  const followed = await followChanges(api.url, api.token);
  const of = (kind: string) => followed.changes.filter((c) => c.kind === kind);
  try {
    // Refused first: a freeze that does not validate, and a viewer's tenant write.
    expect((await api.request('PUT', '/freezes/ct-bad', { timeZone: 'Mars/Olympus' })).status).toBe(400);
    const viewer = await api.tokenFor('viewer');
    expect((await api.request('PUT', '/tenants/ct-nope', { tags: [] }, { token: viewer })).status).toBe(403);
    const oneDay = { timeZone: 'UTC', start: '2099-01-01T00:00', end: '2099-01-02T00:00' };
    expect((await api.request('PUT', '/freezes/ct-told', oneDay)).status).toBe(201);
    expect((await api.request('DELETE', '/freezes/ct-told')).status).toBe(200);
    expect((await api.request('PUT', '/tenants/ct-told', { tags: [] })).status).toBe(201);
    await eventually(
      async () => (of('tenants').length > 0 && of('freezes').length > 1 ? true : undefined),
      'the freeze and tenant changes',
      10_000,
    );
    // Each write that succeeded, by kind only; the refused ones nothing.
    expect(of('freezes')).toEqual([
      { kind: 'freezes', project: null },
      { kind: 'freezes', project: null },
    ]);
    expect(of('tenants')).toEqual([{ kind: 'tenants', project: null }]);
  } finally {
    await followed.stop();
    await api.request('DELETE', '/tenants/ct-told');
  }
}, 60_000);

test('a freeze for a tenant is made on the freezes page, a hostile tenant refused naming the field, and shows its tenants', async () => {
  await page.getByRole('link', { name: 'Freezes' }).click();
  const form = page.locator('form.freeze-form');
  await form.getByLabel('Name').fill('ct-hold');
  await form.getByLabel("Start (on the zone's clock)").fill('2099-01-01T00:00');
  await form.getByLabel('End', { exact: true }).fill('2099-01-02T00:00');
  await form.getByLabel(/^Tenants/).fill(`ct-acme, ${HOSTILE.rtl}`);
  await page.getByRole('button', { name: 'Save freeze' }).click();
  await page.getByRole('alert').filter({ hasText: 'tenants.1' }).waitFor();
  await form.getByLabel(/^Tenants/).fill('ct-acme');
  await page.getByRole('button', { name: 'Save freeze' }).click();
  const row = page.locator('tr[data-freeze="ct-hold"]');
  await row.waitFor();
  expect(await row.locator('.scope').textContent()).toBe('every project; every environment; tenants ct-acme');
  expect((await api.request('GET', '/freezes/ct-hold')).body.spec.tenants).toEqual(['ct-acme']);
  expect((await api.request('DELETE', '/freezes/ct-hold')).status).toBe(200);
  await row.waitFor({ state: 'detached' });
}, 60_000);

test("a tenanted project: its connections, each tenant's cells on the dashboard and the environments page, the release's notes shown as text", async () => {
  expect((await api.request('PUT', `/projects/${PROJECT}`, project())).status).toBeLessThan(300);
  // A release recorded as a hostile registry and trigger would make it: markup in its tag and trigger name.
  const number = await recordWebRelease(env, PROJECT, HOSTILE.markup, {
    reason: `web ${HOSTILE.rtl} is new, see ${HOSTILE.link}`,
    // The trigger's name is the last part of its key: markup without a "/".
    source: { kind: 'trigger', trigger: `trigger/${PROJECT}/${HOSTILE.markup}` },
  });

  await open(page, `/projects/${PROJECT}`);
  const connections = page.getByTestId('tenant-connections');
  await connections.waitFor();
  expect(
    await connections
      .locator('tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => (c.textContent ?? '').trim())),
      ),
  ).toEqual([
    ['ct-acme', 'connected', 'connected'],
    ['ct-globex', 'connected', 'connected'],
    ['ct-initech', '—', 'connected'],
  ]);
  await accessible(page, 'project, tenants');

  // staging deploys to acme and globex by itself; initech is not connected there. Waited for through the API,
  // so the pages below read a settled state.
  await eventually(
    async () => {
      const res = await api.request('GET', `/projects/${PROJECT}/environments`);
      const staging = (
        res.body.environments as Array<{ name: string; tenants?: Array<{ current: unknown }> }>
      ).find((e) => e.name === 'staging');
      return staging?.tenants?.length === 2 && staging.tenants.every((t) => t.current) ? true : undefined;
    },
    'staging deployed to ct-acme and ct-globex',
    60_000,
  );
  await page.getByRole('link', { name: 'Dashboard' }).click();
  const cell = (tenant: string, environment: string) =>
    page.locator(
      `tr[data-tenant-of="${PROJECT}"][data-tenant="${tenant}"] td[data-environment="${environment}"]`,
    );
  for (const tenant of ['ct-acme', 'ct-globex'])
    await cell(tenant, 'staging').and(page.locator('[data-state="succeeded"]')).waitFor({ timeout: 60_000 });
  expect(await cell('ct-acme', 'staging').locator('.release').textContent()).toBe(number);
  // prod needs an approval: each tenant's prod cell says so, as an environment's own cell does.
  for (const tenant of ['ct-acme', 'ct-globex', 'ct-initech'])
    await cell(tenant, 'prod')
      .and(page.locator('[data-state="awaiting-approval"]'))
      .waitFor({ timeout: 60_000 });
  expect(await cell('ct-initech', 'prod').locator('.release').textContent()).toBe(number);
  expect(await cell('ct-initech', 'staging').count()).toBe(0);
  await accessible(page, 'dashboard, tenants');
  await shoot(page, 'dashboard-tenants');

  await page.getByRole('link', { name: 'Environments' }).click();
  const lane = page.locator(`section[aria-label="Environments of ${PROJECT}"] tr.tenant-row`);
  await lane.first().waitFor();
  expect(
    await lane.evaluateAll((trs) =>
      trs.map((tr) => [tr.getAttribute('data-environment'), tr.getAttribute('data-tenant')]),
    ),
  ).toEqual([
    ['staging', 'ct-acme'],
    ['staging', 'ct-globex'],
    ['prod', 'ct-acme'],
    ['prod', 'ct-globex'],
    ['prod', 'ct-initech'],
  ]);
  expect(await lane.nth(0).locator('td').first().textContent()).toContain(number);
  await page.getByRole('button', { name: `Show history of staging in ${PROJECT}` }).click();
  const history = page.getByRole('region', { name: `History of staging in ${PROJECT}` });
  await history.locator('tr[data-status="succeeded"]').nth(1).waitFor();
  expect(
    (
      await history
        .locator('tr[data-status="succeeded"]')
        .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-tenant')))
    ).sort(),
  ).toEqual(['ct-acme', 'ct-globex']);
  await accessible(page, 'environments, tenants');
  await shoot(page, 'environments-tenants');

  await open(page, `/projects/${PROJECT}/releases/${number}`);
  const notes = page.getByTestId('release-notes');
  await notes.waitFor();
  expect((await notes.textContent())?.trimEnd()).toBe(
    `${PROJECT} ${number} by trigger ${HOSTILE.markup}: web ${RTL_SHOWN} is new, see ${HOSTILE.link}\n- web ${HOSTILE.markup}`,
  );
  await harmless(page);
  await accessible(page, 'release, notes');
}, 120_000);

test('the release page: approvals per tenant and for all, a deployment to the tenants a tag picks, a scheduled one in local time with refusals in place', async () => {
  // A project of its own (the tenants are the tests' above), so that a retry meets no approval or
  // deployment the first try left.
  const name = `ct-page-${randomUUID().slice(0, 8)}`;
  expect((await api.request('PUT', `/projects/${name}`, project(name))).status).toBeLessThan(300);
  const number = await recordWebRelease(env, name, '2.0.0', { reason: 'the release page' });
  await open(page, `/projects/${name}/releases/${number}`);
  const phase = (tenant: string) =>
    page.locator(`[data-testid="tenant-phases"] tr[data-tenant="${tenant}"] td[data-phase="prod"]`);
  for (const tenant of ['ct-acme', 'ct-globex', 'ct-initech'])
    await phase(tenant).and(page.locator('[data-state="awaiting-approval"]')).waitFor({ timeout: 60_000 });
  await page.getByLabel('Comment for an approval or rejection').fill(`acme ok ${HOSTILE.markup}`);
  await page.getByRole('button', { name: 'Approve prod for ct-acme' }).click();
  // An approval reaches the page through the environment's workflow and the change stream: on a loaded box
  // (a whole CI run beside it) that took longer than Playwright's 30 s once, as the phases' first state may.
  await phase('ct-acme').and(page.locator('[data-state="open"]')).waitFor({ timeout: 60_000 });
  expect(await phase('ct-globex').getAttribute('data-state')).toBe('awaiting-approval');
  await page.getByLabel('Comment for an approval or rejection').fill('board ok');
  await page.getByRole('button', { name: 'Approve prod for every tenant' }).click();
  for (const tenant of ['ct-globex', 'ct-initech'])
    await phase(tenant).and(page.locator('[data-state="open"]')).waitFor({ timeout: 60_000 });
  const approvals = await page.locator('ul.approvals li').allTextContents();
  expect(approvals).toEqual([
    expect.stringMatching(/^prod for ct-acme: approved by .*: “acme ok /),
    expect.stringMatching(/^prod for every tenant: approved by .*: “board ok”$/),
  ]);
  expect(approvals[0]).toContain(HOSTILE.markup);

  // A tag picks acme and initech (region/eu), one deployment each.
  const form = page.getByTestId('deploy-form');
  await form.getByLabel('Environment').selectOption('prod');
  await form.getByRole('checkbox', { name: 'region/eu' }).check();
  await form.getByRole('button', { name: `Deploy ${number} now` }).click();
  await page
    .getByRole('status')
    .filter({ hasText: 'Asked: prod for ct-acme, prod for ct-initech.' })
    .waitFor();
  for (const tenant of ['ct-acme', 'ct-initech'])
    await page.locator(`ol.timeline li[data-tenant="${tenant}"]`, { hasText: 'prod' }).first().waitFor();

  // Scheduled for globex on the browser's clock (UTC+05:30): refusals first, each naming its field.
  const at = new Date(Date.now() + 86_400_000);
  at.setUTCSeconds(0, 0);
  const expiry = new Date(at.getTime() + 3_600_000);
  await form.getByRole('checkbox', { name: 'ct-globex' }).check();
  await form.getByLabel('Deploy at (empty: now)').fill(onBrowserClock(new Date(Date.now() - 86_400_000)));
  await form.getByRole('button', { name: `Schedule ${number}` }).click();
  await page.getByRole('alert').filter({ hasText: 'deployAt: is in the past' }).waitFor();
  await form.getByLabel('Deploy at (empty: now)').fill(onBrowserClock(at));
  // Chromium names the zone by ICU's canonical name, Asia/Calcutta, or by Asia/Kolkata.
  expect(await page.getByTestId('df-at-utc').textContent()).toMatch(
    new RegExp(`^your time \\(Asia/(Kolkata|Calcutta)\\); ${utcText(at)}$`),
  );
  await form.getByLabel('Cancel if not started by').fill(onBrowserClock(new Date(at.getTime() - 60_000)));
  await form.getByRole('button', { name: `Schedule ${number}` }).click();
  await page.getByRole('alert').filter({ hasText: 'deployAtExpiry' }).waitFor();
  await accessible(page, 'release, a refused schedule');
  await form.getByLabel('Cancel if not started by').fill(onBrowserClock(expiry));
  await form.getByRole('button', { name: `Schedule ${number}` }).click();
  await page.getByRole('status').filter({ hasText: 'Scheduled: prod for ct-globex.' }).waitFor();
  const scheduled = page.locator('ol.timeline li[data-state="scheduled"][data-tenant="ct-globex"]');
  await scheduled.waitFor();
  expect(await scheduled.locator('.when').textContent()).toBe(
    ` at ${utcText(at)}, cancelled if not started by ${utcText(expiry)}`,
  );
  const listed = await api.request('GET', `/projects/${name}/releases/${number}/deployments`);
  const recorded = listed.body.deployments.find(
    (d: { tenant?: string; status: string }) => d.tenant === 'ct-globex' && d.status === 'scheduled',
  );
  expect(recorded.deployAt).toBe(at.toISOString());
  await harmless(page);
  await accessible(page, 'release, tenants');
  await shoot(page, 'release-tenants');

  await page.getByRole('button', { name: 'Cancel prod for ct-globex' }).click();
  await page.locator('ol.timeline li[data-state="cancelled"][data-tenant="ct-globex"]').waitFor();
  expect(await scheduled.count()).toBe(0);

  // Another release's page starts with a fresh form: the time and tenants picked here do not carry over.
  await form.getByRole('checkbox', { name: 'ct-acme' }).check();
  await form.getByLabel('Deploy at (empty: now)').fill(onBrowserClock(at));
  await open(page, `/projects/${PROJECT}/releases/0.0.1`);
  const other = page.getByTestId('deploy-form');
  await other.getByRole('button', { name: 'Deploy 0.0.1 now' }).waitFor();
  expect(await other.getByLabel('Deploy at (empty: now)').inputValue()).toBe('');
  expect(await other.getByRole('checkbox', { checked: true }).count()).toBe(0);
  // A release that is not there shows its error and nothing of the page before (whose approve buttons would
  // have acted on this path).
  await open(page, `/projects/${PROJECT}/releases/9.9.9`);
  await page.locator('.refusal', { hasText: '9.9.9' }).first().waitFor();
  expect(await page.getByTestId('tenant-phases').count()).toBe(0);
  expect(await page.getByRole('button', { name: /^Approve / }).count()).toBe(0);
  expect(dialogs).toEqual([]);
}, 240_000);
