import { Browser, BrowserContext, Page } from 'playwright-core';
import { sql } from 'kysely';
import { openStores } from '../../src/db/stores';
import { Database } from '../../src/db/open';
import { openTestDatabase } from '../support/database';
import { ProjectSpecInput, ProjectSpecSchema } from '../../src/domain/project';
import { startApi, TestApi } from '../support/api';
import { axeViolations, followChanges, openChromium, printFigures, shoot } from '../support/console';
import { startServer, TestServer } from '../support/http-server';
import { pushImage, TestRegistry } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * The web console in Debian's Chromium (playwright-core, the system browser), against the real service: the
 * API on a worker of the run's dev server, Debian's registry notifying it of pushes, a webhook deployment
 * target. axe-core checks each page (screenshots: test/support/console.ts).
 */
const NOTIFY_TOKEN = 'registry-notify-token-console';
const PROJECT = 'console-shop';
/** Each hostile string a person or a registry could put into a shown field. */
const HOSTILE = {
  markup: '<img src=x onerror="window.__pwned=1;alert(1)">',
  link: 'javascript:window.__pwned=1//',
  rtl: 'gnp.\u202Eexe.evil',
};
/** How the console shows HOSTILE.rtl: the override visible, so nothing after it is reordered. */
const RTL_SHOWN = 'gnp.\\u202eexe.evil';

let env: TestWorkerEnv;
let api: TestApi;
let registry: TestRegistry;
let hook: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Dialogs the page opened (alert, confirm): none may come from shown data. */
const dialogs: string[] = [];
const figures: Record<string, string> = {};

/** The few browser globals the page-side checks use (the test program is type-checked for Node). */
interface PageGlobals {
  __pwned?: number;
  document: { cookie: string };
  localStorage: unknown;
  location: { href: string };
}

function project(name: string): ProjectSpecInput {
  return {
    name,
    packages: [{ name: 'web', feed: registry.host, package: `${name}/web` }],
    environments: ['dev', 'test', 'prod'].map((e) => ({
      name: e,
      targets: [{ name: 'hook', type: 'webhook' as const, url: `${hook.url}/deploy` }],
    })),
    lifecycles: [
      {
        name: 'standard',
        phases: [
          { name: 'dev', environments: ['dev'], automatic: true },
          { name: 'test', environments: ['test'], automatic: true },
          { name: 'prod', environments: ['prod'], approval: true },
        ],
      },
    ],
    lifecycle: 'standard',
  };
}

/** axe-core on the page as it is: no serious or critical violation. */
async function accessible(p: Page, name: string): Promise<void> {
  const { bad, summary } = await axeViolations(p);
  figures[`axe ${name}`] = summary;
  expect(bad).toEqual([]);
}

/** The dashboard cell of a project's environment: its release and state. */
async function cell(p: Page, name: string, environment: string): Promise<{ release: string; state: string }> {
  const td = p.locator(`tr[data-project="${name}"] td[data-environment="${environment}"]`);
  return {
    release: (await td.locator('.release').textContent()) ?? '',
    state: (await td.getAttribute('data-state')) ?? '',
  };
}

async function waitForCell(p: Page, name: string, environment: string, release: string, state = 'succeeded') {
  await p
    .locator(`tr[data-project="${name}"] td[data-environment="${environment}"][data-state="${state}"]`)
    .filter({ hasText: release })
    .waitFor({ timeout: 60_000 });
}

async function signIn(p: Page, token: string, base = api.url): Promise<void> {
  await p.goto(`${base}/console/`);
  await p.getByLabel('API token').fill(token);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Dashboard' }).or(p.getByRole('alert')).first().waitFor();
  if (!(await p.getByRole('heading', { name: 'Dashboard' }).isVisible()))
    throw new Error(`sign-in refused: ${await p.getByRole('alert').first().textContent()}`);
}

beforeAll(async () => {
  hook = await startServer((_req, res) => void res.writeHead(202).end());
  env = await startTestWorker({ deployBackoff: { initialMs: 200, maxMs: 1000 } });
  api = await startApi(env, { database: env.database, webhookToken: NOTIFY_TOKEN });
  registry = await TestRegistry.start({
    notify: { url: `${api.url}/webhooks/registry`, token: NOTIFY_TOKEN },
  });
  ({ browser, context, page } = await openChromium(dialogs));
}, 180_000);

afterAll(async () => {
  printFigures('console', figures);
  await browser?.close();
  await api?.close();
  await env?.stop();
  await hook?.close();
  await registry?.stop();
});

describe('the console, served', () => {
  test('is served under a strict CSP, its assets cached by hash and the page never', async () => {
    const res = await fetch(`${api.url}/console/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    for (const d of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "object-src 'none'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ])
      expect(csp).toContain(d);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    expect(html).not.toMatch(/<script>|<style>|\sstyle=|\son[a-z]+=/);
    const asset = /src="(\/console\/assets\/main-[A-Z0-9]+\.js)"/.exec(html)![1];
    const js = await fetch(`${api.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${api.url}/console/assets/..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${api.url}/console/assets/nothing.js`)).status).toBe(404);
  });

  test('a token is exchanged for an HttpOnly, SameSite=Strict session; cookie writes need the CSRF token and the origin; sign-out and revocation end it', async () => {
    const token = await api.tokenFor('operator');
    const signIn = await fetch(`${api.url}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    expect(signIn.status).toBe(201);
    const setCookie = signIn.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^ft_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(token);
    const { csrf, role } = (await signIn.json()) as { csrf: string; role: string };
    expect(role).toBe('operator');
    const cookie = setCookie.split(';')[0];
    // The session is stored hashed: the cookie's value is nowhere in the table.
    const rows = await sql<{ id_hash: string }>`SELECT id_hash FROM console_sessions`.execute(
      env.database.db,
    );
    expect(rows.rows.some((r) => cookie.includes(r.id_hash))).toBe(false);
    expect((await fetch(`${api.url}/whoami`, { headers: { cookie } })).status).toBe(200);
    const write = (headers: Record<string, string>) =>
      fetch(`${api.url}/triggers/${PROJECT}/none/poll`, { method: 'POST', headers: { cookie, ...headers } });
    // A cross-site form post: no CSRF token, a foreign origin.
    const forged = await write({ origin: 'https://evil.example' });
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { detail: string }).detail).toMatch(/Origin/);
    expect((await write({ origin: api.url })).status).toBe(403);
    expect((await write({ origin: api.url, 'x-csrf-token': 'x'.repeat(43) })).status).toBe(403);
    // With both, the call reaches the route (no such trigger: 404).
    expect((await write({ origin: api.url, 'x-csrf-token': csrf })).status).toBe(404);
    // Sign-out ends it on the server: the same cookie is refused afterwards.
    const out = await fetch(`${api.url}/session`, {
      method: 'DELETE',
      headers: { cookie, origin: api.url, 'x-csrf-token': csrf },
    });
    expect(out.status).toBe(200);
    expect((await fetch(`${api.url}/whoami`, { headers: { cookie } })).status).toBe(401);
    // Revoking the token ends its sessions.
    const again = await fetch(`${api.url}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    const cookie2 = again.headers.get('set-cookie')!.split(';')[0];
    expect((await fetch(`${api.url}/whoami`, { headers: { cookie: cookie2 } })).status).toBe(200);
    const name = (
      (await (await fetch(`${api.url}/whoami`, { headers: { cookie: cookie2 } })).json()) as { name: string }
    ).name;
    expect((await api.request('DELETE', `/tokens/${name}`)).status).toBe(200);
    expect((await fetch(`${api.url}/whoami`, { headers: { cookie: cookie2 } })).status).toBe(401);
    expect(
      (
        await fetch(`${api.url}/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"token":"ft_nope"}',
        })
      ).status,
    ).toBe(401);
    // Hostile sign-ins and cookies: clear refusals, nothing signed in.
    const post = (body: string, type = 'application/json') =>
      fetch(`${api.url}/session`, { method: 'POST', headers: { 'content-type': type }, body });
    expect((await post(JSON.stringify({ token: 'ft_' + 'a'.repeat(10_000) }))).status).toBe(400);
    expect((await post(JSON.stringify({ token, extra: 1 }))).status).toBe(400);
    expect((await post('{"token":')).status).toBe(400);
    expect((await post(JSON.stringify({ token: ['x'] }))).status).toBe(400);
    for (const bad of ['ft_session=', 'ft_session=../../x', `ft_session=${'A'.repeat(4000)}`, 'FT_SESSION=x'])
      expect([
        bad.slice(0, 30),
        (await fetch(`${api.url}/whoami`, { headers: { cookie: bad } })).status,
      ]).toEqual([bad.slice(0, 30), 401]);
    expect((await fetch(`${api.url}/session`, { headers: { cookie: 'ft_session=%00%ff' } })).status).toBe(
      404,
    );
  });
});

describe('the daily loop in the browser', () => {
  test('sign in, apply, create a trigger in the dialog, see a pushed release appear live, approve prod, roll back', async () => {
    await signIn(page, api.token);
    expect(await context.cookies()).toEqual([
      expect.objectContaining({ name: 'ft_session', httpOnly: true, sameSite: 'Strict' }),
    ]);
    expect(
      await page.evaluate(() => {
        const g = globalThis as unknown as PageGlobals;
        return g.document.cookie + JSON.stringify(g.localStorage) + g.location.href;
      }),
    ).not.toMatch(/ft_/);
    // `apply`: the project through the API, as the CLI does.
    expect((await api.request('PUT', `/projects/${PROJECT}`, project(PROJECT))).status).toBeLessThan(300);
    await page.locator(`tr[data-project="${PROJECT}"]`).waitFor();
    await shoot(page, 'signin-dashboard');

    // The new-trigger dialog, Octopus's steps.
    await page.getByRole('link', { name: PROJECT, exact: true }).click();
    await page.getByRole('heading', { name: PROJECT }).waitFor();
    await page.getByRole('button', { name: 'New trigger' }).click();
    await page.getByLabel('Name', { exact: true }).fill('web');
    await page
      .getByLabel('Description')
      .fill(`Watches web. ${HOSTILE.markup} ${HOSTILE.link} ${HOSTILE.rtl}`);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('radio', { name: /default/ }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('checkbox', { name: /web/ }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByTestId('preview').waitFor();
    await accessible(page, 'new-trigger dialog');
    await shoot(page, 'new-trigger-dialog');
    await page.getByRole('button', { name: 'Create' }).click();
    const card = page.locator('article[data-trigger="web"]');
    await card.waitFor();
    // The hostile description is text: no image element, no script ran, shown literally, the direction
    // override shown as \u202e instead of reversing the rest of the line.
    const description = await card.locator('.description').textContent();
    expect(description).toContain(HOSTILE.markup);
    expect(description).toContain(RTL_SHOWN);
    expect(description).not.toContain('\u202E');
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);

    // Push: the release appears without a reload.
    const pushed = Date.now();
    await pushImage(registry.url, `${PROJECT}/web`, '1.0.0');
    await page.locator('tr[data-release="0.0.1"]').waitFor({ timeout: 60_000 });
    figures['push → release row on the project page'] = `${Date.now() - pushed} ms`;
    await accessible(page, 'project');
    await shoot(page, 'project');

    // The dashboard follows dev and test; prod waits for an approval.
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await waitForCell(page, PROJECT, 'test', '0.0.1');
    // test succeeded, so prod's phase is open but for its approval: the cell names the waiting release.
    await waitForCell(page, PROJECT, 'prod', '0.0.1', 'awaiting-approval');
    expect(await cell(page, PROJECT, 'prod')).toEqual({ release: '0.0.1', state: 'awaiting-approval' });
    await page
      .locator(`tr[data-project="${PROJECT}"] td[data-environment="prod"] .state`)
      .filter({ hasText: 'awaiting approval' })
      .waitFor();
    await page.getByRole('link', { name: '0.0.1' }).first().click();
    await page.getByRole('heading', { name: /Release 0\.0\.1/ }).waitFor();
    await page.locator('li[data-phase="prod"][data-state="awaiting-approval"]').waitFor({ timeout: 30_000 });
    // Approving needs a comment: the refusal shows in place.
    await page.getByRole('button', { name: 'Approve prod' }).click();
    await page.getByText('write a comment first').waitFor();
    await page.getByLabel('Comment for an approval or rejection').fill(`QA ok ${HOSTILE.markup}`);
    await page.getByRole('button', { name: 'Approve prod' }).click();
    // prod is manual: approved, it opens, and a person deploys.
    await page.locator('li[data-phase="prod"][data-state="open"]').waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Deploy to prod' }).click();
    await page.locator('li[data-phase="prod"][data-state="complete"]').waitFor({ timeout: 30_000 });
    await accessible(page, 'release');
    await shoot(page, 'release');
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await waitForCell(page, PROJECT, 'prod', '0.0.1');

    // A second push, with the dashboard open: its cells change live.
    const second = Date.now();
    await pushImage(registry.url, `${PROJECT}/web`, '1.0.1');
    await waitForCell(page, PROJECT, 'dev', '0.0.2');
    figures['push → dashboard dev cell changed'] = `${Date.now() - second} ms`;
    await waitForCell(page, PROJECT, 'test', '0.0.2');
    figures['push → dashboard test cell changed'] = `${Date.now() - second} ms`;
    // 0.0.1 is deployed in prod, yet the cell says what waits: 0.0.2, for its approval.
    await waitForCell(page, PROJECT, 'prod', '0.0.2', 'awaiting-approval');
    const deployedByHand = await api.request('POST', `/projects/${PROJECT}/releases/0.0.2/approvals`, {
      phase: 'prod',
      decision: 'approve',
      comment: 'ok',
    });
    expect(deployedByHand.status).toBeLessThan(300);
    const approved = Date.now();
    expect(
      (await api.request('POST', `/projects/${PROJECT}/releases/0.0.2/deployments`, { environment: 'prod' }))
        .status,
    ).toBe(202);
    await waitForCell(page, PROJECT, 'prod', '0.0.2');
    figures['prod deployment asked → dashboard prod cell changed'] = `${Date.now() - approved} ms`;
    await accessible(page, 'dashboard');
    await shoot(page, 'dashboard');

    // Roll prod back to 0.0.1: the console asks for the force confirmation in place.
    await page.goto(`${api.url}/console/#/projects/${PROJECT}/releases/0.0.1`);
    await page.getByRole('button', { name: 'Roll back prod to 0.0.1' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await waitForCell(page, PROJECT, 'prod', '0.0.1');

    await page.getByRole('link', { name: 'Environments' }).click();
    await page.getByRole('heading', { name: 'Environments' }).waitFor();
    // prod's history, newest first: the rollback to 0.0.1, then 0.0.2, then the first 0.0.1.
    await page.getByRole('button', { name: `History of prod in ${PROJECT}` }).click();
    const history = page.getByRole('region', { name: `History of prod in ${PROJECT}` });
    await history.locator('tr[data-status="succeeded"]').nth(2).waitFor();
    const rows = history.locator('tr[data-deployment]');
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-release')))).toEqual([
      '0.0.1',
      '0.0.2',
      '0.0.1',
    ]);
    await expect(rows.first().textContent()).resolves.toContain('forced');
    // The API pages it: one a page, the cursor leads to the older ones; an unknown environment is a 404.
    const historyPath = `/projects/${PROJECT}/environments/prod/deployments`;
    const newest = await api.request('GET', `${historyPath}?limit=1`);
    expect(newest.status).toBe(200);
    expect(newest.body.deployments.map((d: { release: string }) => d.release)).toEqual(['0.0.1']);
    const older = await api.request('GET', `${historyPath}?limit=2&cursor=${newest.body.nextCursor}`);
    expect(older.body.deployments.map((d: { release: string }) => d.release)).toEqual(['0.0.2', '0.0.1']);
    expect(older.body.nextCursor).toBeNull();
    expect((await api.request('GET', `/projects/${PROJECT}/environments/nowhere/deployments`)).status).toBe(
      404,
    );
    expect((await api.request('GET', `${historyPath}?cursor=${encodeURIComponent('<x>')}`)).status).toBe(400);
    await accessible(page, 'environments');
    await shoot(page, 'environments');
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('heading', { name: 'Audit' }).waitFor();
    await page.getByLabel('Name', { exact: true }).first().fill('console-hub');
    await page.getByLabel('Type').selectOption('dockerhub');
    await page.getByRole('button', { name: 'Create receiver' }).click();
    await page.getByTestId('shown-once').or(page.getByRole('alert')).first().waitFor();
    if (!(await page.getByTestId('shown-once').isVisible()))
      throw new Error(`receiver refused: ${await page.getByRole('alert').first().textContent()}`);
    await expect(page.getByTestId('shown-once').textContent()).resolves.toMatch(
      /\/hooks\/[A-Za-z0-9_-]{20,}$/,
    );
    // Three notifications to it: not JSON, a hostile tag, a push of a package nobody watches.
    const hookUrl = (await page.getByTestId('shown-once').textContent())!;
    const hookToken = hookUrl.split('/').pop()!;
    const post = (body: string) =>
      fetch(hookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await post('not json')).status).toBe(400);
    const hostileTag = JSON.stringify({
      push_data: { tag: HOSTILE.markup },
      repository: { repo_name: `nobody/${HOSTILE.rtl}` },
    });
    expect((await post(hostileTag)).status).toBe(400);
    const push = JSON.stringify({ push_data: { tag: '1.0.0' }, repository: { repo_name: 'nobody/none' } });
    expect((await post(push)).status).toBe(202);
    const kept = await api.request('GET', '/receivers/console-hub/notifications');
    expect(kept.status).toBe(200);
    expect(
      kept.body.notifications.map((n: { verdict: string; status: number }) => [n.verdict, n.status]),
    ).toEqual([
      ['accepted', 202],
      ['invalid', 400],
      ['invalid', 400],
    ]);
    expect(kept.body.notifications[2].reason).toBe('the body is not valid JSON');
    expect(kept.body.notifications[0].reason).toContain('0 trigger(s) told to poll');
    expect(JSON.stringify(kept.body)).not.toContain(hookToken);
    expect((await api.request('GET', '/receivers/nobody-here/notifications')).status).toBe(404);
    const viewer = await api.tokenFor('viewer');
    expect(
      (await api.request('GET', '/receivers/console-hub/notifications', undefined, { token: viewer })).status,
    ).toBe(403);
    await page.getByRole('button', { name: 'Show notifications of console-hub' }).click();
    const shown = page.getByRole('region', { name: 'Last notifications of console-hub' });
    await shown.locator('tr[data-verdict="accepted"]').waitFor();
    expect(await shown.locator('tr[data-verdict]').count()).toBe(3);
    await expect(shown.locator('tr[data-verdict]').nth(2).textContent()).resolves.toContain('not valid JSON');
    // The real registry's notifications to /webhooks/registry are listed too: its pushes, accepted.
    await page.getByRole('button', { name: 'Show notifications of /webhooks/registry' }).click();
    const endpoint = page.getByRole('region', { name: 'Last notifications of /webhooks/registry' });
    await endpoint.locator('tr[data-verdict="accepted"]').first().waitFor();
    await expect(
      endpoint.locator('tr[data-verdict="accepted"]').first().locator('.reason').textContent(),
    ).resolves.toContain(`${PROJECT}/web`);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).__pwned)).toBeUndefined();
    await accessible(page, 'admin');
    await shoot(page, 'admin');

    expect(dialogs).toEqual([]);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).__pwned)).toBeUndefined();
  }, 300_000);

  test('a trigger write through the API is announced on /events, naming the trigger; a refused one is not', async () => {
    const followed = await followChanges(api.url, api.token);
    const { changes } = followed;
    try {
      const mine = () =>
        changes.filter((c) => (c as { kind: string }).kind === 'triggers') as {
          project: string;
          trigger: string;
        }[];
      expect((await api.request('POST', `/triggers/${PROJECT}/nosuch/pause`)).status).toBe(404);
      expect((await api.request('POST', `/triggers/${PROJECT}/web/pause`)).status).toBe(202);
      await eventually(
        async () => (mine().length > 0 ? true : undefined),
        'a trigger change on /events',
        5_000,
      );
      expect((await api.request('POST', `/triggers/${PROJECT}/web/resume`)).status).toBe(202);
      await eventually(async () => (mine().length > 1 ? true : undefined), 'a second trigger change', 5_000);
      // The two writes, and the resumed trigger's own announcement when its poll changed what its card
      // shows: all of them name it; the refused write to "nosuch" none.
      expect(new Set(mine().map((c) => JSON.stringify(c)))).toEqual(
        new Set([JSON.stringify({ kind: 'triggers', project: PROJECT, trigger: 'web' })]),
      );
    } finally {
      await followed.stop();
    }
  }, 60_000);

  test('a viewer sees no write buttons; the API refuses a viewer anyway', async () => {
    const viewer = await browser.newContext();
    const p = await viewer.newPage();
    await signIn(p, await api.tokenFor('viewer'));
    await p.goto(`${api.url}/console/#/projects/${PROJECT}/releases/0.0.1`);
    await p.getByRole('heading', { name: /Release 0\.0\.1/ }).waitFor();
    await p.locator('li[data-phase="prod"]').waitFor();
    expect(await p.getByRole('button', { name: /Deploy|Roll back|Approve|Reject|Cancel/ }).count()).toBe(0);
    await p.goto(`${api.url}/console/#/projects/${PROJECT}`);
    await p.locator('article[data-trigger="web"] .badge').waitFor();
    expect(await p.getByRole('button', { name: /Pause|Resume|Poll now|New trigger/ }).count()).toBe(0);
    const status = await p.evaluate(async () => {
      const s = (await (await fetch('/session')).json()) as { csrf: string };
      return (
        await fetch('/triggers/console-shop/web/pause', {
          method: 'POST',
          headers: { 'x-csrf-token': s.csrf },
        })
      ).status;
    });
    expect(status).toBe(403);
    await viewer.close();
  }, 60_000);

  test('hostile input is refused or shown as text: a 10,000-character name, an over-long description', async () => {
    await page.goto(`${api.url}/console/#/projects/${PROJECT}`);
    await page.getByRole('button', { name: 'New trigger' }).click();
    await page.getByLabel('Name', { exact: true }).fill(`a${'<b>'.repeat(3333)}`);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('alert').filter({ hasText: 'a trigger name is' }).waitFor();
    // The API's own refusal, shown in place: a description past its limit.
    await page.getByLabel('Name', { exact: true }).fill('longdesc');
    await page.getByLabel('Description').evaluate(
      (el, v) => {
        const area = el as unknown as { value: string; removeAttribute(name: string): void };
        area.removeAttribute('maxlength');
        area.value = v;
        el.dispatchEvent(new Event('input', { bubbles: true }));
      },
      `${HOSTILE.rtl}${'x'.repeat(10_000)}`,
    );
    for (let i = 0; i < 3; i++) await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Create' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /description/ })
      .waitFor();
    await page.keyboard.press('Escape');
    expect(dialogs).toEqual([]);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).__pwned)).toBeUndefined();
  }, 60_000);
});

describe('the dashboard at scale', () => {
  let database: Database;
  let big: TestApi;
  afterAll(async () => {
    await big?.close();
    await database?.close();
  });

  test('200 projects × 5 environments render all 1,000 cells (the reload time is measured); an environment’s history shows a hostile error as text', async () => {
    database = await openTestDatabase();
    const stores = openStores(database);
    const ledger = stores.ledger;
    const envs = ['dev', 'test', 'staging', 'prod', 'dr'];
    for (let i = 0; i < 200; i++)
      await ledger.saveProject(
        ProjectSpecSchema.parse({
          name: `p${String(i).padStart(3, '0')}`,
          packages: [{ name: 'web', feed: 'registry.example', package: `p${i}/web` }],
          environments: envs.map((e) => ({
            name: e,
            targets: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/x' }],
          })),
        }),
      );
    // A release per project, deployed everywhere but prod (one failed, the rest succeeded).
    await sql`
      INSERT INTO releases (project_id, number, channel, created_at, packages, version_set, reason, source, key)
      SELECT id, '1.0.0', 'default', now(), '[]'::jsonb, 'v', 'seeded', '{"kind":"manual"}'::jsonb, 'k' FROM projects`.execute(
      database.db,
    );
    await sql`
      INSERT INTO deployments (project_id, release_id, environment, status, forced, requested_by, queued_at, finished_at, targets)
      SELECT r.project_id, r.id, e.name, CASE WHEN e.name = 'staging' THEN 'failed' ELSE 'succeeded' END, false, 'seed', now(), now(), '{}'
      FROM releases r CROSS JOIN (VALUES ('dev'), ('test'), ('staging'), ('dr')) AS e(name)`.execute(
      database.db,
    );
    big = await startApi({ client: env.client, taskQueue: env.taskQueue, stores });
    const c = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await c.newPage();
    await signIn(p, big.token, big.url);
    await p.locator('td[data-state]').nth(999).waitFor();
    // Timed from a reload (page, script, one /environments call, render) to all 1,000 cells on screen.
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      await p.reload();
      await p.locator('td[data-state]').nth(999).waitFor();
      times.push(Date.now() - t0);
    }
    expect(await p.locator('td[data-state]').count()).toBe(1000);
    expect(await p.locator('td[data-state="failed"]').count()).toBe(200);
    figures['dashboard 200×5, reload to 1,000 cells'] = `${times.join(', ')} ms`;
    // The figure is the measurement (307-530 ms here); the bound only catches a page gone pathological.
    expect(Math.min(...times)).toBeLessThan(4000);
    await shoot(p, 'dashboard-200x5', false);
    // An environment's history shows a hostile error text as text.
    await sql`
      UPDATE deployments SET error = ${`${HOSTILE.markup} ${HOSTILE.link} ${HOSTILE.rtl}`}
      WHERE environment = 'staging' AND project_id = (SELECT id FROM projects WHERE name = 'p000')`.execute(
      database.db,
    );
    await p.getByRole('link', { name: 'Environments' }).click();
    await p.getByRole('button', { name: 'History of staging in p000' }).click();
    const staging = p.getByRole('region', { name: 'History of staging in p000' });
    await staging.locator('tr[data-status="failed"]').waitFor();
    const failedRow = await staging.locator('tr[data-status="failed"]').textContent();
    expect(failedRow).toContain(HOSTILE.markup);
    expect(failedRow).toContain(RTL_SHOWN);
    expect(failedRow).not.toContain('\u202E');
    // Its tooltip too: a shown attribute is escaped as the text is.
    const tooltip = await staging.locator('tr[data-status="failed"] .refusal').getAttribute('title');
    expect(tooltip).toContain(RTL_SHOWN);
    expect(tooltip).not.toContain('\u202E');
    expect(await p.locator('img').count()).toBe(0);
    expect(await p.locator('a[href^="javascript:"]').count()).toBe(0);
    expect(await p.evaluate(() => (globalThis as unknown as PageGlobals).__pwned)).toBeUndefined();
    await c.close();
  }, 120_000);
});
