import { refuseDeepYaml, YamlTooDeepError } from '../src/domain/yaml-depth';
import { DeployFileError, editDeployFile } from '../src/targets/git/deploy-file';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Client } from '@temporalio/client';
import { createApp } from '../src/api/app';
import { listen } from '../src/api/listen';
import { openDatabase } from '../src/db/open';
import { openStores } from '../src/db/stores';
import { compileRule, evaluateRule } from '../src/domain/rule';
import { CredentialStore } from '../src/feeds/credentials';
import { HelmHttpFeed } from '../src/feeds/feed';
import { HelmRepositoryClient } from '../src/feeds/helm';
import { HttpClient } from '../src/net/http';
import { startServer } from '../test/support/http-server';
import { freePort } from '../test/support/registry';

/**
 * Hostile-input figures: rules that backtrack catastrophically on V8 over hostile tags (RE2 keeps them
 * linear), Helm indexes of 10k and 100k charts (parse time against plain reading, memory kept), and
 * /healthz latency (p50, p99, max) while hostile probes run in the same process: viewers' previews of
 * 30,000 tags of 128 characters with an extract of 128 `$1`s, and the worker parsing a 100k-chart Helm
 * index over and over. `--probes-only` runs that last part alone; `--seconds N` sets its length (20);
 * `--probes previews` or `--probes helm` runs one kind of probe. Last, trigger reads while the worker is busy
 * (`--reads-only` runs that part alone): the built service as `npm start` runs it (`serve`: API, worker and
 * an embedded Temporal dev server in one process), whose triggers poll Helm feeds serving the 100k-chart
 * index without validators (each poll downloads and parses it again), told to poll over and over, while
 * `GET /triggers/<project>/<name>` of a busy trigger is timed (issue 25: answered within 2 s).
 */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const say = (line: string) => process.stdout.write(`${line}\n`);

function timeIt(runs: number, fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

function helmIndex(charts: number): string {
  const lines = ['apiVersion: v1', 'entries:'];
  for (let c = 0; c < charts; c++)
    lines.push(
      `  chart-${c}:`,
      `  - apiVersion: v2`,
      `    name: chart-${c}`,
      `    version: 1.${c % 100}.${c}`,
      `    digest: ${'ab'.repeat(32)}`,
      `    urls: [charts/chart-${c}.tgz]`,
    );
  return `${lines.join('\n')}\n`;
}

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

/** /healthz answered every ~10 ms while the probes run; the API and the "worker" share this event loop. */
async function healthUnderProbes(seconds: number, helmBody: Buffer, kinds: readonly string[]): Promise<void> {
  const database = await openDatabase({});
  // No Temporal server: /healthz and /rules/preview need none (the health probe just reports it down).
  const client = new Client();
  const stores = openStores(database);
  const app = createApp({ client, taskQueue: 'bench-hostile', ...stores, database });
  const server = await listen(app, 0, '127.0.0.1');
  const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { token } = await stores.access.createToken('bench-viewer', 'viewer', 'bench');
  const index = await startServer((_req, res) => void res.writeHead(200).end(helmBody));
  const tags = Array.from({ length: 30_000 }, (_, i) => `${i}-${'a'.repeat(128)}`.slice(0, 128));
  const body = JSON.stringify({ rule: { filter: '^(.*)$', extract: '$1'.repeat(128) }, tags });
  const textBody = JSON.stringify({
    rule: { filter: '^(.*)$', extract: '$1'.repeat(128), order: 'alphabetical' },
    tags: tags.slice(0, 10_000),
  });
  let stop = false;
  const answers = new Map<number, number>();
  const viewer = async (payload: string) => {
    while (!stop) {
      const res = await fetch(`${api}/rules/preview`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: payload,
      });
      await res.arrayBuffer();
      answers.set(res.status, (answers.get(res.status) ?? 0) + 1);
      if (res.status === 503) await new Promise((r) => setTimeout(r, 200));
    }
  };
  let parses = 0;
  const worker = async () => {
    while (!stop) {
      const http = new HttpClient();
      const helm = new HelmRepositoryClient(http, new CredentialStore(http));
      const feed: HelmHttpFeed = {
        id: `hostile-${parses}`,
        type: 'helm',
        url: index.url,
        auth: { kind: 'anonymous' },
        maxTags: 200_000,
        maxIndexBytes: 64 * 1024 * 1024,
      };
      await helm.chartVersions(feed, 'chart-7');
      parses++;
    }
  };
  const stall = monitorEventLoopDelay({ resolution: 10 });
  const latencies: number[] = [];
  const probes = [
    ...(kinds.includes('previews') ? [viewer(body), viewer(body), viewer(textBody)] : []),
    ...(kinds.includes('helm') ? [worker()] : []),
  ];
  // The first seconds hold one-time costs (the SDK client's first connection attempt, the pool's threads
  // starting): the figures are the steady state under the probes.
  await new Promise((r) => setTimeout(r, 3000));
  stall.enable();
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const t = performance.now();
    const res = await fetch(`${api}/healthz`);
    await res.arrayBuffer();
    latencies.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 10));
  }
  stall.disable();
  stop = true;
  await Promise.allSettled(probes);
  say(
    `/healthz under hostile probes (${seconds} s, ${latencies.length} requests): p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
      `p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(0)} ms; ` +
      `longest event-loop stall ${(stall.max / 1e6).toFixed(0)} ms; previews answered ` +
      `${[...answers].map(([status, n]) => `${n}x${status}`).join(', ')}; Helm parses of the 100k-chart index: ${parses}`,
  );
  await new Promise((r) => server.close(r));
  await index.close();
  await database.close();
  await client.connection.close().catch(() => undefined);
}

/** Busy feeds: each trigger polls its own, so every poll-now downloads and parses a 100k-chart index. */
const BUSY_FEEDS = 3;

/**
 * `GET /triggers/<project>/<name>` latency (p50, p99, max) every ~100 ms for `seconds`, against the built
 * service (`dist/src/main.js serve`: API, worker and its embedded dev server in one process, a data folder
 * of its own), while its worker parses the hostile index over and over: BUSY_FEEDS triggers told to poll
 * now every 500 ms, the feeds' poll cache off. The read asks the trigger's workflow (a query the worker
 * answers), so it waits whenever the worker's event loop or its workflow tasks do.
 */
async function triggerReadsUnderBusyWorker(seconds: number, helmBody: Buffer): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-bench-reads-'));
  let indexReads = 0;
  const index = await startServer((req, res) => {
    if (!/^\/\d+\/index\.yaml$/.test(req.url)) return void res.writeHead(404).end();
    indexReads++;
    // No ETag or Last-Modified: the worker cannot answer a poll from its cached copy.
    res.writeHead(200, { 'content-type': 'application/x-yaml' }).end(helmBody);
  });
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'pollCacheSeconds: 0',
      'feeds:',
      ...Array.from(
        { length: BUSY_FEEDS },
        (_, i) =>
          `  - { id: busy-${i}, type: helm, url: "${index.url}/${i}", maxTags: 200000, maxIndexBytes: 67108864 }`,
      ),
      '',
    ].join('\n'),
  );
  const ports = {
    FEED_TRIGGERS_API_PORT: await freePort(),
    TEMPORAL_PORT: await freePort(),
    TEMPORAL_HTTP_PORT: await freePort(),
    TEMPORAL_UI_PORT: await freePort(),
    TEMPORAL_METRICS_PORT: await freePort(),
  };
  const api = `http://127.0.0.1:${ports.FEED_TRIGGERS_API_PORT}`;
  // Its own process group: stopping it takes the dev server it spawned too.
  const child = spawn(process.execPath, [path.resolve(__dirname, '../src/main.js'), 'serve'], {
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      FEED_TRIGGERS_DATA_DIR: path.join(dir, 'data'),
      FEED_TRIGGERS_CONFIG: config,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let tail = '';
  let token = '';
  for (const stream of [child.stdout!, child.stderr!])
    stream.on('data', (d: Buffer) => {
      tail = (tail + d.toString()).slice(-4000);
      token ||= /^ {2}(ft_\S+)$/m.exec(tail)?.[1] ?? '';
    });
  const stopService = async () => {
    if (child.exitCode !== null || !child.pid) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid, 'SIGTERM');
    const killed = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 30_000);
    await exited;
    clearTimeout(killed);
  };
  try {
    const started = performance.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode}): ${tail}`);
      if (performance.now() - started > 120_000)
        throw new Error(`the service was not ready in 120 s: ${tail}`);
      const ready = await fetch(`${api}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready && token) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const call = async (method: string, at: string, body?: unknown) => {
      const res = await fetch(`${api}${at}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${at}: ${res.status} ${text.slice(0, 300)}`);
    };
    for (let i = 0; i < BUSY_FEEDS; i++) {
      await call('PUT', `/projects/busy-${i}`, {
        packages: [{ name: 'chart', feed: `busy-${i}`, package: 'chart-7' }],
      });
      await call('POST', `/projects/busy-${i}/triggers`, { name: 'chart', intervalSeconds: 10 });
    }
    // A trigger of the same worker that polls once, at its start, and then only hourly.
    await call('PUT', '/projects/quiet', {
      packages: [{ name: 'chart', feed: 'busy-0', package: 'chart-7' }],
    });
    await call('POST', '/projects/quiet/triggers', { name: 'chart', intervalSeconds: 3600 });
    let stop = false;
    const pollNow = async (i: number) => {
      while (!stop) {
        await call('POST', `/triggers/busy-${i}/chart/poll`).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    const pollers = Array.from({ length: BUSY_FEEDS }, (_, i) => pollNow(i));
    // Until the worker is parsing: its first polls, then the steady state.
    while (indexReads < BUSY_FEEDS) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 3000));
    const readsBefore = indexReads;
    // Three readers at once: the busy trigger itself, a trigger of the same worker that is not polling, and
    // /healthz (the process's event loop).
    const timed = async (at: string) => {
      const latencies: number[] = [];
      const statuses = new Map<number, number>();
      const until = performance.now() + seconds * 1000;
      while (performance.now() < until) {
        const t = performance.now();
        const res = await fetch(`${api}${at}`, { headers: { authorization: `Bearer ${token}` } });
        await res.arrayBuffer();
        latencies.push(performance.now() - t);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 100));
      }
      return (
        `${at} (${latencies.length} reads): p50 ${percentile(latencies, 50).toFixed(0)} ms, ` +
        `p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms, ` +
        `answered ${[...statuses].map(([status, n]) => `${n}x${status}`).join(', ')}`
      );
    };
    const figures = await Promise.all(
      ['/triggers/busy-0/chart', '/triggers/quiet/chart', '/healthz'].map(timed),
    );
    stop = true;
    await Promise.allSettled(pollers);
    say(
      `While the worker parses the 100k-chart index (${seconds} s; ${indexReads - readsBefore} downloads, ` +
        `${BUSY_FEEDS} triggers told to poll every 500 ms):\n  ${figures.join('\n  ')}`,
    );
  } finally {
    await stopService();
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const seconds = Number(args[args.indexOf('--seconds') + 1]) || 20;
  const kinds = args.includes('--probes')
    ? args[args.indexOf('--probes') + 1].split(',')
    : ['previews', 'helm'];
  if (args.includes('--probes-only')) {
    await healthUnderProbes(seconds, Buffer.from(helmIndex(100_000)), kinds);
    return;
  }
  if (args.includes('--reads-only')) {
    await triggerReadsUnderBusyWorker(seconds, Buffer.from(helmIndex(100_000)));
    return;
  }
  const hostileTags = Array.from({ length: 10_000 }, (_, i) => `${'a'.repeat(100)}${i}`);
  for (const pattern of ['([a-z]|[a-z0-9])*!', '(a|aa)*b', 'a*a*a*a*a*b', '(\\w|\\d)*$']) {
    const rule = compileRule({ exclude: [pattern] });
    const ms = timeIt(5, () => evaluateRule(rule, hostileTags));
    say(`rule exclude ${pattern.padEnd(20)} over 10,000 hostile 104-char tags: median ${ms.toFixed(1)} ms`);
  }

  // A deploy repository's file (at most 1 MiB) is anyone's text: what refusing a deep one costs the worker,
  // beside a shallow file of the same size that it reads in full.
  const mib = 1024 * 1024;
  const yamlTexts: Array<[string, string]> = [
    ['1 MiB of `[`', '['.repeat(mib)],
    ['1 MiB of `{a: `', `a: ${'{a: '.repeat(mib / 4)}`],
    ['1 MiB of `- ` on one line', `${'- '.repeat(mib / 2)}x\n`],
    ['1 MiB of `? - ` on one line', `${'? - '.repeat(mib / 4)}x\n`],
    ['1 MiB list of `- [1, 2]` lines (shallow)', '- [1, 2]\n'.repeat(mib / 9)],
  ];
  // And what a file of many syntax errors costs the edit (the library's pretty errors made it quadratic).
  const edit = {
    path: 'values.yaml',
    format: 'yaml' as const,
    field: 'a',
    use: 'tag' as const,
    tag: '1',
    digest: null,
  };
  for (const [what, text] of [
    ['65,536 `]`', ']'.repeat(65_536)],
    ['1 MiB of `- &a `', '- &a '.repeat(mib / 5)],
  ] as const) {
    const ms = timeIt(1, () => {
      try {
        editDeployFile(text, edit);
      } catch (err) {
        if (!(err instanceof DeployFileError)) throw err;
      }
    });
    say(`deploy file edit, ${what.padEnd(38)}: refused as not YAML, ${ms.toFixed(0)} ms`);
  }
  for (const [what, text] of yamlTexts) {
    let outcome = 'read in full';
    const ms = timeIt(3, () => {
      try {
        refuseDeepYaml(text);
      } catch (err) {
        if (!(err instanceof YamlTooDeepError)) throw err;
        outcome = 'refused';
      }
    });
    say(`YAML depth check, ${what.padEnd(42)}: ${outcome}, median ${ms.toFixed(1)} ms`);
  }

  const bodies = new Map<string, Buffer>();
  for (const n of [10_000, 100_000]) bodies.set(`/r${n}/index.yaml`, Buffer.from(helmIndex(n)));
  const server = await startServer((req, res) => {
    const body = bodies.get(req.url);
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200).end(body);
  });
  try {
    for (const n of [10_000, 100_000]) {
      const feed: HelmHttpFeed = {
        id: `r${n}`,
        type: 'helm',
        url: `${server.url}/r${n}`,
        auth: { kind: 'anonymous' },
        maxTags: 200_000,
        maxIndexBytes: 64 * 1024 * 1024,
      };
      const read: number[] = [];
      const parse: number[] = [];
      let kept = 0;
      for (let i = 0; i < 3; i++) {
        const http = new HttpClient();
        const t0 = performance.now();
        await http.request(`${feed.url}/index.yaml`, { maxBytes: feed.maxIndexBytes });
        read.push(performance.now() - t0);
        const helm = new HelmRepositoryClient(http, new CredentialStore(http));
        global.gc?.();
        const before = process.memoryUsage().heapUsed;
        const t1 = performance.now();
        await helm.chartVersions(feed, 'chart-7');
        parse.push(performance.now() - t1);
        global.gc?.();
        kept = process.memoryUsage().heapUsed - before;
      }
      const size = (bodies.get(`/r${n}/index.yaml`)!.length / 1024 / 1024).toFixed(1);
      say(
        `Helm index of ${n.toLocaleString()} charts (${size} MB): download ${median(read).toFixed(0)} ms, ` +
          `download + parse ${median(parse).toFixed(0)} ms, heap kept ${(kept / 1024 / 1024).toFixed(1)} MiB`,
      );
    }
  } finally {
    await server.close();
  }
  await healthUnderProbes(seconds, bodies.get('/r100000/index.yaml')!, kinds);
  await triggerReadsUnderBusyWorker(seconds, bodies.get('/r100000/index.yaml')!);
}

main().then(
  // The CPU pool's threads and the SDK's lazy connection hold nothing worth waiting for.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
