import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AccessStore } from '../../src/db/access';
import { SEARCH_ATTRIBUTES } from '../../workflows/contracts/search-attributes';
import { freePort } from '../../src/runtime/ports';
import { ensureTemporalCli } from '../../src/temporal/cli';
import { DEV_SERVER_SQLITE_ARGS } from '../../src/temporal/connect';
import { DevServerProcess, startDevServerProcess } from '../../src/temporal/dev-server';
import { openTestDatabase } from './database';
import { FaultProxy } from './fault-proxy';
import { pushImage, TestRegistry } from './registry';

/** What a Temporal outage cost the service, in ms from the moment the restarted server answered. */
export interface OutageFigures {
  readonly outageMs: number;
  /** Each Temporal route: ms to its first answer that is not a 5xx, and that answer's status. */
  readonly routes: Record<string, { readonly ms: number; readonly status: number }>;
  readonly readyzMs: number;
  /** Each trigger: ms to its first poll (a tag listing) after the server answered. */
  readonly polls: Record<string, number>;
  /** Each trigger's project: ms until the version pushed during the outage was released. */
  readonly releases: Record<string, number>;
  /** Temporal routes that answered 503 after /readyz had said ready. */
  readonly notReadyAfterReady: string[];
}

export interface OutageOptions {
  readonly outageMs: number;
  readonly triggers?: number;
  /** Where the service's log goes (kept for reading after a run). */
  readonly logFile?: string;
  readonly say?: (line: string) => void;
  /** The built service; by default dist/src/main.js of this checkout (from the TypeScript sources). */
  readonly mainJs?: string;
}

const ROUTES = ['GET /triggers', 'GET /triggers/outage-0/app', 'GET preview', 'POST manual release'] as const;

/**
 * The built service (`node dist/src/main.js`) against a Temporal dev server of its own that is stopped for
 * `outageMs` and started again on the same port and SQLite file; measures how soon each Temporal route
 * answers, /readyz says ready, and every trigger polls and releases again.
 */
export async function measureTemporalOutage(options: OutageOptions): Promise<OutageFigures> {
  const say = options.say ?? (() => undefined);
  const triggers = options.triggers ?? 3;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-outage-'));
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    const registry = await TestRegistry.start();
    cleanup.push(() => registry.stop());
    const proxy = await FaultProxy.start(registry.url);
    cleanup.push(() => proxy.close());
    for (let i = 0; i < triggers; i++) await pushImage(registry.url, `outage/app-${i}`, '1.0.0');
    await pushImage(registry.url, 'outage/manual', '1.0.0');

    const cli = await ensureTemporalCli();
    if (!cli) throw new Error('no Temporal CLI');
    const dbFile = path.join(dir, 'temporal.sqlite');
    const ports = { frontend: await freePort(), ui: null, metrics: await freePort(), http: await freePort() };
    const startTemporal = () =>
      startDevServerProcess({
        cli,
        ip: '127.0.0.1',
        namespace: 'default',
        dbFile,
        ports,
        searchAttributes: SEARCH_ATTRIBUTES,
        extraArgs: DEV_SERVER_SQLITE_ARGS,
      });
    let temporal: DevServerProcess = await startTemporal();
    cleanup.push(() => temporal.stop());

    const dataDir = path.join(dir, 'data');
    // The ledger on the run's PostgreSQL: an embedded one would boot PostgreSQL in WebAssembly here and in the
    // service (about 3 s of CPU each), and the outages are Temporal's, not the ledger's.
    const ledger = await openTestDatabase();
    cleanup.push(() => ledger.close());
    const token = (await new AccessStore(ledger.db).createToken('outage', 'admin', 'test')).token;
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, `feeds:\n  - { id: proxied, url: "${proxy.url}" }\n`);
    const apiPort = await freePort();
    const service: ChildProcess = spawn(
      process.execPath,
      [options.mainJs ?? path.resolve(__dirname, '../../dist/src/main.js')],
      {
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: temporal.address,
          TEMPORAL_NAMESPACE: 'default',
          FEED_TRIGGERS_TASK_QUEUE: 'outage',
          FEED_TRIGGERS_API_PORT: String(apiPort),
          FEED_TRIGGERS_CONFIG: config,
          FEED_TRIGGERS_DATA_DIR: dataDir,
          DATABASE_URL: ledger.url,
          // The SDK's own warnings while the server is away are many and say nothing new here.
          LOG_LEVEL: 'error',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise((resolve) => service.once('exit', resolve));
    cleanup.push(async () => {
      service.kill('SIGTERM');
      const timer = setTimeout(() => service.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    });
    const logFile = options.logFile ?? path.join(dir, 'service.log');
    const log = createWriteStream(logFile);
    service.stdout!.pipe(log);
    service.stderr!.pipe(log);

    const api = `http://127.0.0.1:${apiPort}`;
    const answer = async (
      method: string,
      route: string,
      body?: unknown,
    ): Promise<{ status: number; detail: string }> => {
      try {
        const res = await fetch(`${api}${route}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        return { status: res.status, detail: res.status >= 500 ? text.slice(0, 300) : '' };
      } catch (err) {
        return { status: 0, detail: (err as Error).message };
      }
    };
    const call = async (method: string, route: string, body?: unknown): Promise<number> =>
      (await answer(method, route, body)).status;
    const until = async (what: string, ok: () => Promise<boolean>, ms = 120_000) => {
      const deadline = Date.now() + ms;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const releasesOf = async (project: string): Promise<string[]> => {
      const res = await fetch(`${api}/projects/${project}/releases`, {
        headers: { authorization: `Bearer ${token}` },
      });
      if (res.status !== 200) return [];
      const body = (await res.json()) as { releases: Array<{ packages: Array<{ tag: string }> }> };
      return body.releases.map((r) => r.packages[0].tag);
    };

    await until('the service to answer', async () => (await call('GET', '/readyz')) === 200).catch(
      (err: unknown) => {
        throw new Error(`${(err as Error).message}; its log: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      },
    );
    say('service up; creating projects and triggers');
    const feed = 'proxied';
    for (let i = 0; i < triggers; i++) {
      const project = `outage-${i}`;
      const put = await call('PUT', `/projects/${project}`, {
        packages: [{ name: 'app', feed, package: `outage/app-${i}` }],
      });
      if (put !== 201 && put !== 200) throw new Error(`PUT /projects/${project}: ${put}`);
      const created = await call('POST', `/projects/${project}/triggers`, {
        name: 'app',
        intervalSeconds: 10,
      });
      if (created !== 201) throw new Error(`POST /projects/${project}/triggers: ${created}`);
    }
    const manual = await call('PUT', '/projects/outage-manual', {
      packages: [{ name: 'app', feed, package: 'outage/manual' }],
    });
    if (manual !== 201 && manual !== 200) throw new Error(`PUT /projects/outage-manual: ${manual}`);
    for (let i = 0; i < triggers; i++)
      await until(
        `the first release of outage-${i}`,
        async () => (await releasesOf(`outage-${i}`)).length > 0,
      );
    const probes: Record<(typeof ROUTES)[number], () => Promise<{ status: number; detail: string }>> = {
      'GET /triggers': () => answer('GET', '/triggers'),
      'GET /triggers/outage-0/app': () => answer('GET', '/triggers/outage-0/app'),
      'GET preview': () => answer('GET', '/projects/outage-0/channels/default/preview'),
      'POST manual release': () => answer('POST', '/projects/outage-manual/releases', {}),
    };
    for (const route of ROUTES.slice(0, 3))
      if ((await probes[route]()).status !== 200)
        throw new Error(`${route} does not answer 200 before the outage`);

    say(`stopping Temporal for ${Math.round(options.outageMs / 1000)} s`);
    await temporal.stop();
    const outageEnds = Date.now() + options.outageMs;
    let pushed = false;
    // Callers keep asking during the outage (every 0.5 s), as they would.
    while (Date.now() < outageEnds) {
      if (!pushed) {
        for (let i = 0; i < triggers; i++) await pushImage(registry.url, `outage/app-${i}`, '1.0.1');
        pushed = true;
      }
      await probes['GET /triggers']();
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(500, outageEnds - Date.now()))));
    }
    temporal = await startTemporal();
    const back = Date.now();
    say('Temporal is back');

    const routes: Record<string, { ms: number; status: number }> = {};
    const polls: Record<string, number> = {};
    const releases: Record<string, number> = {};
    const notReadyAfterReady: string[] = [];
    let readyzMs = -1;
    const deadline = back + 180_000;
    while (Date.now() < deadline) {
      const ready = readyzMs >= 0 || (await call('GET', '/readyz')) === 200;
      if (ready && readyzMs < 0) readyzMs = Date.now() - back;
      // The routes at once, so a slow answer from one does not delay the others' figures.
      await Promise.all(
        ROUTES.filter((route) => !routes[route]).map(async (route) => {
          const { status, detail } = await probes[route]();
          if (status !== 0 && status < 500) routes[route] = { ms: Date.now() - back, status };
          else if (ready) notReadyAfterReady.push(`${route} ${status} ${detail}`);
        }),
      );
      for (let i = 0; i < triggers; i++) {
        const key = `outage-${i}`;
        const listing = proxy.requests.find(
          (r) => r.at >= back && r.path.includes(`/v2/outage/app-${i}/tags/list`),
        );
        if (listing && polls[key] === undefined) polls[key] = listing.at - back;
        if (releases[key] === undefined && (await releasesOf(key)).includes('1.0.1'))
          releases[key] = Date.now() - back;
      }
      const done =
        readyzMs >= 0 &&
        Object.keys(routes).length === ROUTES.length &&
        Object.keys(polls).length === triggers &&
        Object.keys(releases).length === triggers;
      if (done) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    return { outageMs: options.outageMs, routes, readyzMs, polls, releases, notReadyAfterReady };
  } finally {
    for (let undo = cleanup.pop(); undo; undo = cleanup.pop()) await undo().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
