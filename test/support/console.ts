import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { Browser, BrowserContext, BrowserContextOptions, chromium, Page } from 'playwright-core';

/** Helpers the console's browser tests share (test/integration/console*.test.ts). */

const ROOT = path.resolve(__dirname, '../..');

/**
 * Where a run saves a screenshot of each page, when asked: `FEED_TRIGGERS_SCREENSHOTS=docs/screenshots`
 * refreshes the ones the README shows. A plain run takes none: a full-page PNG costs the browser more CPU
 * than most checks of the page, and nobody looks at a test run's pictures.
 */
const SHOTS = process.env.FEED_TRIGGERS_SCREENSHOTS
  ? path.resolve(ROOT, process.env.FEED_TRIGGERS_SCREENSHOTS)
  : null;

/** The file a screenshot named `name` goes to (its folder made), or null when the run takes none. */
export function shotPath(name: string): `${string}.png` | null {
  if (!SHOTS) return null;
  mkdirSync(SHOTS, { recursive: true });
  return path.join(SHOTS, `${name}.png`) as `${string}.png`;
}

/** Each hostile string a person or a registry could put into a shown field. */
export const HOSTILE = {
  markup: '<img src=x onerror="window.__pwned=1;alert(1)">',
  link: 'javascript:window.__pwned=1//',
  rtl: 'gnp.\u202Eexe.evil',
};
/** How the console shows HOSTILE.rtl: the override visible, so nothing after it is reordered. */
export const RTL_SHOWN = 'gnp.\\u202eexe.evil';

/** The few browser globals the page-side checks use (the test program is type-checked for Node). */
export interface PageGlobals {
  __pwned?: number;
  __sameDocument?: number;
}

/**
 * axe-core on the page as it is: the serious or critical violations (none expected), and a summary. The
 * console has no frames, so axe runs in the page itself (legacy mode) rather than in each frame and then again
 * in a blank page of its own that merges the frames' results: that second page and the second copy of axe
 * (650 KB) cost more than the check. Results name every node of a violation and one of each passed rule.
 */
export async function axeViolations(p: Page): Promise<{ bad: string[]; summary: string }> {
  const result = await new AxeBuilder({ page: p })
    .setLegacyMode(true)
    .options({ resultTypes: ['violations'] })
    .analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  return {
    bad: bad.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`),
    summary: `${result.passes.length} passes, ${result.violations.length} violations (${bad.length} serious/critical)`,
  };
}

export async function shoot(p: Page, name: string, fullPage = true): Promise<void> {
  const file = shotPath(name);
  if (file) await p.screenshot({ path: file, fullPage });
}

/** Signs in with a token on the console at `base`; throws the page's refusal if it shows one. */
export async function signIn(p: Page, base: string, token: string): Promise<void> {
  await p.goto(`${base}/console/`);
  await p.getByLabel('API token').fill(token);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Dashboard' }).or(p.getByRole('alert')).first().waitFor();
  if (!(await p.getByRole('heading', { name: 'Dashboard' }).isVisible()))
    throw new Error(`sign-in refused: ${await p.getByRole('alert').first().textContent()}`);
}

/** Marks the page's document, so a test can prove later that it was not reloaded. */
export async function markDocument(p: Page): Promise<void> {
  await p.evaluate(() => {
    (globalThis as unknown as PageGlobals).__sameDocument = 1;
  });
}

/** Whether the document markDocument marked is still the one shown (no reload, no navigation away). */
export async function sameDocument(p: Page): Promise<boolean> {
  return p.evaluate(() => (globalThis as unknown as PageGlobals).__sameDocument === 1);
}

/** Whether anything hostile ran on the page (an onerror, a javascript: link). */
export async function pwned(p: Page): Promise<boolean> {
  return p.evaluate(() => (globalThis as unknown as PageGlobals).__pwned !== undefined);
}

/** The changes `GET /events` announces, as they arrive, until `stop()`. */
export interface FollowedChanges {
  readonly changes: ReadonlyArray<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Follows the change stream of the API at `base` with a bearer token, collecting each change's data. */
export async function followChanges(base: string, token: string): Promise<FollowedChanges> {
  const stream = await fetch(`${base}/events`, { headers: { authorization: `Bearer ${token}` } });
  if (stream.status !== 200) throw new Error(`GET /events answered ${stream.status}`);
  const reader = stream.body!.getReader();
  const changes: Record<string, unknown>[] = [];
  let text = '';
  const reading = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      text += Buffer.from(value).toString('utf8');
      for (let at = text.indexOf('\n\n'); at >= 0; at = text.indexOf('\n\n')) {
        const data = /^data: (.*)$/m.exec(text.slice(0, at))?.[1];
        if (data) changes.push(JSON.parse(data) as Record<string, unknown>);
        text = text.slice(at + 2);
      }
    }
  })().catch(() => undefined);
  return {
    changes,
    async stop() {
      await reader.cancel();
      await reading;
    },
  };
}

/** Prints a browser test's figures (the closing note quotes them) in one block. */
export function printFigures(name: string, figures: Record<string, unknown>): void {
  console.log(
    `${name} figures:\n${Object.entries(figures)
      .map(([k, v]) => `  ${k}: ${String(v)}`)
      .join('\n')}`,
  );
}

/**
 * Debian's Chromium with one context (1280×800 unless `options` say otherwise) and a page on it. Every dialog
 * the page opens is pushed to `dialogs` and dismissed: the console opens none, so a test that expects `dialogs`
 * empty catches a hostile string that ran as script.
 */
export async function openChromium(
  dialogs: string[],
  options: BrowserContextOptions = {},
): Promise<{ browser: Browser; context: BrowserContext; page: Page }> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  const page = await context.newPage();
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  return { browser, context, page };
}
