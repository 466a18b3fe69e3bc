import { createRequire } from 'node:module';
import type { Browser, Page } from 'puppeteer-core';
import { startApi, TestApi } from '../support/api';
import { startServer, TestServer } from '../support/http-server';
import { pushImage, TestRegistry } from '../support/registry';
import { HOSTILE, RTL_SHOWN, shotPath } from '../support/console';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * The console's daily walk in a second browser: Debian's Firefox ESR, driven over WebDriver BiDi by
 * puppeteer-core (Playwright's BiDi path sends commands this Firefox does not know yet:
 * `emulation.setMediaFeaturesOverride`). Sign in, the dashboard, a project whose trigger's description is
 * hostile, a release with a hostile approval comment: shown as text, nothing run.
 */
const PROJECT = 'fox-shop';
const FIREFOX = '/usr/bin/firefox-esr';

// puppeteer-core ships ES modules only: Node's own require loads them (Node 24), Jest's module registry cannot.
const puppeteer = createRequire(__filename)('puppeteer-core') as typeof import('puppeteer-core');

let env: TestWorkerEnv;
let api: TestApi;
let registry: TestRegistry;
let hook: TestServer;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];

/** The few browser globals the page-side code uses (the test program is type-checked for Node). */
interface PageGlobals {
  __pwned?: number;
  document: {
    cookie: string;
    querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }>;
  };
}

/** Waits until the page shows an element matching `selector` whose text contains `text`. */
async function waitForText(p: Page, selector: string, text: string, timeout = 30_000): Promise<void> {
  await p.waitForFunction(
    (s, t) =>
      Array.from((globalThis as unknown as PageGlobals).document.querySelectorAll(s)).some((e) =>
        (e.textContent ?? '').includes(t),
      ),
    { timeout, polling: 100 },
    selector,
    text,
  );
}

/** Clicks the link or button whose text is exactly `text`. */
async function clickText(p: Page, selector: string, text: string): Promise<void> {
  await waitForText(p, selector, text);
  await p.$$eval(
    selector,
    (els, t) => {
      const el = els.find((e) => (e.textContent ?? '').trim() === t) as { click(): void } | undefined;
      el?.click();
    },
    text,
  );
}

beforeAll(async () => {
  hook = await startServer((_req, res) => void res.writeHead(202).end());
  env = await startTestWorker();
  api = await startApi(env, { database: env.database });
  registry = await TestRegistry.start();
  await pushImage(registry.url, `${PROJECT}/web`, '1.0.0');
  const put = await api.request('PUT', `/projects/${PROJECT}`, {
    packages: [{ name: 'web', feed: registry.host, package: `${PROJECT}/web` }],
    environments: [{ name: 'prod', targets: [{ name: 'hook', type: 'webhook', url: `${hook.url}/deploy` }] }],
    lifecycles: [{ name: 'gated', phases: [{ name: 'prod', environments: ['prod'], approval: true }] }],
    lifecycle: 'gated',
  });
  expect(put.status).toBeLessThan(300);
  const created = await api.request('POST', `/projects/${PROJECT}/triggers`, {
    name: 'web',
    intervalSeconds: 3600,
    description: `Watches web. ${HOSTILE.markup} ${HOSTILE.link} ${HOSTILE.rtl}`,
  });
  expect(created.status).toBe(201);
  await eventually(
    async () =>
      (await api.request('GET', `/projects/${PROJECT}/releases?limit=1`)).body.releases.length === 1
        ? true
        : undefined,
    'release 0.0.1',
    60_000,
  );
  const approved = await api.request('POST', `/projects/${PROJECT}/releases/0.0.1/approvals`, {
    phase: 'prod',
    decision: 'approve',
    comment: `QA ok ${HOSTILE.markup} ${HOSTILE.rtl}`,
  });
  expect(approved.status).toBeLessThan(300);
  browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true });
  page = await (await browser.createBrowserContext()).newPage();
  await page.setViewport({ width: 1280, height: 800 });
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await env?.stop();
  await hook?.close();
  await registry?.stop();
});

test('in Firefox: sign in, the dashboard, a project and its release, hostile text shown as text', async () => {
  expect((await browser.version()).toLowerCase()).toContain('firefox');
  await page.goto(`${api.url}/console/`);
  await page.waitForSelector('#token');
  await page.type('#token', api.token);
  await page.click('button[type="submit"]');
  await waitForText(page, 'h1', 'Dashboard');
  // The session is an HttpOnly cookie: the page's script cannot read it.
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.cookie)).not.toContain(
    'ft_',
  );
  await page.waitForSelector(`tr[data-project="${PROJECT}"]`);

  await clickText(page, 'a', PROJECT);
  const card = 'article[data-trigger="web"] .description';
  await waitForText(page, card, 'Watches web.');
  const description = await page.$eval(card, (e) => e.textContent ?? '');
  expect(description).toContain(HOSTILE.markup);
  expect(description).toContain(HOSTILE.link);
  expect(description).toContain(RTL_SHOWN);
  expect(description).not.toContain('\u202E');
  await page.waitForSelector('tr[data-release="0.0.1"]');

  await clickText(page, 'tr[data-release="0.0.1"] a', '0.0.1');
  await waitForText(page, 'h1', 'Release 0.0.1');
  await waitForText(page, 'ul.approvals li', 'QA ok');
  const approval = await page.$eval('ul.approvals li', (e) => e.textContent ?? '');
  expect(approval).toContain(HOSTILE.markup);
  expect(approval).toContain(RTL_SHOWN);
  expect(approval).not.toContain('\u202E');
  await waitForText(page, 'table.list td', '1.0.0');
  const shot = shotPath('firefox-release');
  if (shot) await page.screenshot({ path: shot, fullPage: true });

  expect(await page.$$eval('img', (els) => els.length)).toBe(0);
  expect(await page.$$eval('a[href^="javascript:"]', (els) => els.length)).toBe(0);
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).__pwned)).toBeUndefined();
  expect(dialogs).toEqual([]);
}, 120_000);
