import { ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { ensureTemporalCli } from '../src/temporal/cli';
import { DEV_SERVER_SQLITE_ARGS } from '../src/temporal/connect';
import { metricTotal } from '../src/observability/metrics';
import { FaultProxy } from '../test/support/fault-proxy';
import { freePort, pushImage, TestRegistry } from '../test/support/registry';
import { Client as PgClient } from 'pg';
import { isLaterTag } from '../src/domain/decision';
import { compileRule } from '../src/domain/rule';
import { startPostgres } from '../test/support/postgres';
import { describeBurst, sendBurst } from './receiver-burst';
import { postgresCpu } from './proc-cpu';
import { startProductionTemporal } from './production-temporal';

/**
 * `npm run bench:scale`: N triggers over P packages on one machine, as an operator runs them. Starts its own
 * Temporal dev server, Debian's registry (behind a counting proxy) and the service as a separate process;
 * creates P projects and N triggers through the API; runs for a fixed time; prints poll lag, RSS and CPU of
 * the service and the server, listings per package per interval, history events per idle iteration and the
 * trigger creation rate. Stops everything it started.
 */
/** The command line; an unknown flag or a flag without its value ends the bench with one line and status 2. */
function parseFlags() {
  try {
    return parseArgs({
      options: {
        triggers: { type: 'string', default: '2000' },
        packages: { type: 'string', default: '200' },
        interval: { type: 'string', default: '60' },
        duration: { type: 'string', default: '300' },
        /** FEED_TRIGGERS_WORKER_MEMORY for the service (default: its own default). */
        memory: { type: 'string' },
        /** postgres (its own PostgreSQL server; the API and the workers run as separate roles) or embedded. */
        ledger: { type: 'string', default: 'postgres' },
        /** Worker processes on the one task queue (postgres ledger only). */
        workers: { type: 'string', default: '1' },
        /** kill -9 a worker at the start of the window and start another: the restart's herd, measured. */
        restart: { type: 'boolean', default: false },
        /**
         * kill -9 the last worker at the start of the window and start none in its place (with --workers 2 or
         * more): the others must take over its triggers and watchers, and the window's pushes still release once.
         */
        kill: { type: 'boolean', default: false },
        /**
         * Seconds: at the start of the window every process of the service (api and workers) is stopped with
         * SIGTERM and started again this long after, as a deploy or a host's reboot does; the timers that came
         * due meanwhile meet new workers with empty caches. Registry listings and workflow tasks per 5 s over
         * the first two intervals after the start are printed: the herd of a restart of everything, measured.
         */
        outage: { type: 'string', default: '0' },
        /**
         * Instead of the steady window: the receivers load test. 1,000 signed notifications in 10 s for the
         * first 50 packages (each gets a new version), to the api process; then every trigger on those packages
         * must have released it once, and the polls the notifications caused are counted.
         */
        burst: { type: 'boolean', default: false },
        /** A dynamic configuration value for the dev server, KEY=VALUE (repeatable): to try server settings. */
        'dynamic-config': { type: 'string', multiple: true, default: [] },
        /** apply -f's --concurrency (default: the CLI's own). */
        'apply-concurrency': { type: 'string' },
        /**
         * Other work beside the service, as the issue measured it (load average 3-5 on two cores): this many
         * processes that each burn one core at normal priority for the whole run.
         */
        load: { type: 'string', default: '0' },
        /**
         * A directory: each worker's main thread is profiled over the window (V8's sampling profiler), written
         * there as worker-K.cpuprofile (Chrome DevTools opens it) and summarised by where its time went.
         */
        'cpu-profile': { type: 'string' },
        /** A directory: each process's output (stdout and stderr) is kept there as <role>-<K>.log. */
        logs: { type: 'string' },
        /**
         * Packages per project (default 1): with more, each project holds this many packages and each trigger
         * watches one of them, the layout of a team's estate (several images released together).
         */
        'packages-per-project': { type: 'string', default: '1' },
        /**
         * Creation only: apply the manifest, wait until the worker has run every new trigger's first
         * workflow tasks (the task queue's backlog is empty), print what it cost, and stop.
         */
        'apply-only': { type: 'boolean', default: false },
        /** FEED_TRIGGERS_WATCHER_SHARDS for the workers: package watchers (0: off; 32, the service's default). */
        watchers: { type: 'string', default: '32' },
        /**
         * Seconds between the apply and the window (default: one interval, at most 60 s). Longer leaves out of
         * the window each new trigger's subscription to its watchers and the one poll it makes after it, so the
         * window shows the steady state of idle triggers.
         */
        warmup: { type: 'string' },
        /**
         * Instead of a fixed warm-up, wait until the creation has settled (no workflow or activity task has
         * waited for a worker for a whole interval; at most 45 minutes), say when the queue was last busy, and
         * then wait --warmup seconds more (default 0): the window then shows the steady state however long
         * the creation takes to drain.
         */
        settle: { type: 'boolean', default: false },
        /**
         * Packages pushed a new version in the middle of the window (no webhooks): the time from each push to
         * its projects' releases, and one release per project per push, are measured.
         */
        push: { type: 'string', default: '20' },
        /**
         * The Temporal server: `dev` (the CLI's dev server on SQLite, as `npm start` embeds it) or
         * `production` (Temporal v1.29.1's own server on the bench's PostgreSQL, as prove:production starts it;
         * needs --ledger postgres).
         */
        temporal: { type: 'string', default: 'dev' },
        /** With `--temporal production`: the server's history shards (4 unless given). */
        'history-shards': { type: 'string' },
        /**
         * Triggers whose histories are read after the window for the poll lag (an even spread; each read is a
         * query the worker answers, replaying a trigger it does not hold), at most 8 at once and for at most
         * 90 s: the table says how many were read.
         */
        'history-sample': { type: 'string', default: '500' },
        /** An environment variable for the worker processes, KEY=VALUE (repeatable): to try allocator settings. */
        'worker-env': { type: 'string', multiple: true, default: [] },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message.split('\n')[0]}\n`);
    process.exit(2);
  }
}
const { values } = parseFlags();
/** A whole number flag within bounds; anything else ends the bench with one line and status 2. */
function count(
  flag:
    | 'triggers'
    | 'packages'
    | 'interval'
    | 'duration'
    | 'workers'
    | 'load'
    | 'packages-per-project'
    | 'watchers'
    | 'push'
    | 'outage'
    | 'warmup'
    | 'history-sample'
    | 'history-shards',
  min: number,
  max: number,
) {
  const text = values[flag] ?? '';
  const n = Number(text);
  if (!/^\d{1,7}$/.test(text) || n < min || n > max) {
    process.stderr.write(
      `--${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text.slice(0, 40))}\n`,
    );
    process.exit(2);
  }
  return n;
}
const N = count('triggers', 1, 100_000);
const P = Math.min(count('packages', 1, 10_000), N);
const INTERVAL = count('interval', 1, 86_400);
/** Packages per project; the projects are P / K, so K must divide P. */
const K = count('packages-per-project', 1, 50);
if (P % K !== 0) {
  process.stderr.write(`--packages-per-project ${K} must divide --packages ${P}\n`);
  process.exit(2);
}
const PROJECTS = P / K;
if (K > 1 && values.burst) {
  process.stderr.write('--burst needs one package per project\n');
  process.exit(2);
}
/** Trigger i watches package i % P; its project and name (one package per project keeps the old names). */
const triggerOf = (i: number) => {
  const pkg = i % P;
  const round = Math.floor(i / P);
  return {
    project: `b${Math.floor(pkg / K)}`,
    name: K === 1 ? `t${round}` : `t${round}-app${pkg % K}`,
    watch: `app${pkg % K}`,
  };
};
const DURATION = count('duration', 1, 86_400);
if (values.ledger !== 'embedded' && values.ledger !== 'postgres') {
  process.stderr.write('--ledger must be postgres or embedded\n');
  process.exit(2);
}
const EMBEDDED = values.ledger === 'embedded';
const WORKERS = EMBEDDED ? 1 : count('workers', 1, 16);
// Each burns a core: more than a few per core is not "other work", it is a fork bomb.
const LOAD = count('load', 0, 4 * os.cpus().length);
const WATCHERS = count('watchers', 0, 1024);
/** Projects that get a push: the first package of each of the first PUSHED projects (package j·K of project j). */
const PUSHED = Math.min(count('push', 0, 10_000), PROJECTS);
const pushedPackage = (project: number) => project * K;
const isPushed = (pkg: number) => pkg % K === 0 && pkg / K < PUSHED;
const OUTAGE = count('outage', 0, 3600);
/** The most triggers whose histories are read for the poll lag. */
const LAG_SAMPLE = count('history-sample', 1, 100_000);
/** How long the history reads may take in all: past it no new read starts (at 10,000 triggers, 2,000 reads took minutes). */
const LAG_READ_MS = 90_000;
if (values.temporal !== 'dev' && values.temporal !== 'production') {
  process.stderr.write('--temporal must be dev or production\n');
  process.exit(2);
}
const PRODUCTION = values.temporal === 'production';
const WORKER_ENV: Record<string, string> = {};
for (const pair of values['worker-env']) {
  const m = /^([A-Z_][A-Z0-9_]{0,63})=(.{0,200})$/.exec(pair);
  if (!m) {
    process.stderr.write(`--worker-env must be KEY=VALUE, not ${JSON.stringify(pair.slice(0, 40))}\n`);
    process.exit(2);
  }
  WORKER_ENV[m[1]] = m[2];
}
if (!PRODUCTION && values['history-shards'] !== undefined) {
  // The dev server has one history shard and no flag for more.
  process.stderr.write('--history-shards is for --temporal production\n');
  process.exit(2);
}
/** The production server's history shards, checked before anything starts. */
const HISTORY_SHARDS = values['history-shards'] === undefined ? 4 : count('history-shards', 1, 1024);
if (PRODUCTION && values.ledger !== 'postgres') {
  process.stderr.write('--temporal production needs --ledger postgres (the server persists to it)\n');
  process.exit(2);
}
if (EMBEDDED && values.restart) {
  // The embedded ledger runs one `serve` process: killing it would stop the API too.
  process.stderr.write('--restart needs --ledger postgres (a worker process of its own)\n');
  process.exit(2);
}
if (values.kill && (EMBEDDED || Number(values.workers) < 2)) {
  process.stderr.write('--kill needs --ledger postgres and --workers 2 or more (the others take over)\n');
  process.exit(2);
}
/** A directory flag: made now (before anything starts), or the bench ends with one line and status 2. */
function directory(flag: 'logs' | 'cpu-profile'): string | undefined {
  const given = values[flag];
  if (given === undefined) return undefined;
  const dir = path.resolve(given);
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    process.stderr.write(
      `--${flag} ${JSON.stringify(given.slice(0, 200))}: ${(err as Error).message.slice(0, 200)}\n`,
    );
    process.exit(2);
  }
  return dir;
}
const LOGS = directory('logs');
const PROFILES = directory('cpu-profile');
/** Where worker K's CPU profile goes, with --cpu-profile. */
const profilePath = (k: number) => path.join(PROFILES ?? '.', `worker-${k}.cpuprofile`);
const { EventType } = temporal.api.enums.v1;
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number) =>
  xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

/** Runs `fn` over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** RSS (bytes) and CPU seconds (user + system) of a process, from /proc. */
function usage(pid: number): { rss: number; cpu: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = 100; // CLK_TCK on Linux
  return { rss, cpu: (Number(stat[11]) + Number(stat[12])) / ticks };
}

/** CPU seconds per thread name of a process (V8's workers, the SDK core's tokio threads, libuv's pool). */
function threadCpu(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      byName.set(name, (byName.get(name) ?? 0) + (Number(stat[11]) + Number(stat[12])) / 100);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return byName;
}

/** The busiest threads between two threadCpu readings, busiest first: [name, CPU seconds spent]. */
function busiestThreads(before: Map<string, number>, after: Map<string, number>, n: number) {
  return [...after]
    .map(([name, cpu]) => [name, cpu - (before.get(name) ?? 0)] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n);
}

/** The workers' evictions so far by reason (feed_triggers_workflow_evictions_total), summed over workers. */
async function evictionsByReason(
  processes: ReadonlyArray<{ name: string; port: number }>,
): Promise<Map<string, number>> {
  const byReason = new Map<string, number>();
  for (const p of processes.filter((q) => q.name !== 'api')) {
    const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text().catch(() => '');
    for (const m of text.matchAll(/^feed_triggers_workflow_evictions_total\{reason="([a-z_]+)"\} (\S+)$/gm))
      byReason.set(m[1], (byReason.get(m[1]) ?? 0) + Number(m[2]));
  }
  return byReason;
}

/**
 * Quantiles of one of the SDK's latency histograms (milliseconds, summed over labels) from its buckets: the
 * upper bound of the bucket each quantile falls in.
 */
function histogramQuantiles(metrics: string, name: string, qs: readonly number[]): string {
  const buckets = new Map<number, number>();
  for (const m of metrics.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)$`, 'gm'))) {
    const le = m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
  }
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return '-';
  const quantiles = qs.map((q) => {
    const at = sorted.find(([, n]) => n >= q * total);
    return `p${q * 100} ≤ ${at ? at[0] : '?'} ms`;
  });
  // The buckets themselves (cumulative counts): how many took longer than a task timeout would allow.
  return `${quantiles.join(', ')} (of ${total}: ${sorted.map(([le, n]) => `≤${le} ${n}`).join(' ')})`;
}

/**
 * The SDK's own counters since the worker started, summed over their labels: cache hits and misses,
 * forced evictions, failures, and the mean of each latency histogram (its _sum over its _count).
 */
function sdkSummary(metrics: string): string {
  const totals = new Map<string, number>();
  for (const m of metrics.matchAll(/^(temporal_[a-z_]+?)(?:\{[^}]*\})? (\S+)$/gm)) {
    if (m[1].endsWith('_bucket')) continue;
    totals.set(m[1], (totals.get(m[1]) ?? 0) + Number(m[2]));
  }
  const parts: string[] = [];
  for (const [name, value] of totals) {
    if (name.endsWith('_count') || !/(cache|evict|fail|latency_sum|slots_available|pollers)/.test(name))
      continue;
    if (name.endsWith('_sum')) {
      const base = name.slice(0, -4);
      const count = totals.get(`${base}_count`) ?? 0;
      parts.push(
        `${base.replace(/^temporal_/, '')} mean ${count ? ((value / count) * 1000).toFixed(0) : '-'} ms of ${count}`,
      );
    } else parts.push(`${name.replace(/^temporal_/, '')} ${value}`);
  }
  return parts.join(', ');
}

/**
 * Where a main thread's time went, from a V8 CPU profile: how busy it was, and the busiest places by self
 * time (a package under node_modules, a file of ours, or a native entry such as the garbage collector).
 */
async function summariseProfile(file: string): Promise<string> {
  for (let i = 0; i < 50; i++) {
    try {
      const profile = JSON.parse(readFileSync(file, 'utf8')) as {
        nodes: Array<{ id: number; callFrame: { functionName: string; url: string } }>;
        samples: number[];
        timeDeltas: number[];
      };
      const place = new Map<number, string>();
      for (const { id, callFrame } of profile.nodes) {
        const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(callFrame.url)?.[1];
        place.set(
          id,
          pkg ??
            (callFrame.url.startsWith('node:')
              ? 'node internals'
              : callFrame.url
                ? path.relative(path.resolve(__dirname, '..'), callFrame.url.replace(/^file:\/\//, ''))
                : callFrame.functionName || '(native)'),
        );
      }
      const time = new Map<string, number>();
      let total = 0;
      profile.samples.forEach((id, k) => {
        const dt = profile.timeDeltas[k] ?? 0;
        total += dt;
        const where = place.get(id) ?? '?';
        time.set(where, (time.get(where) ?? 0) + dt);
      });
      const idle = time.get('(idle)') ?? 0;
      time.delete('(idle)');
      const pct = (t: number) => `${((t / total) * 100).toFixed(1)} %`;
      const top = [...time]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([where, t]) => `${where} ${pct(t)}`);
      return `busy ${pct(total - idle)} of the time; by self time: ${top.join(', ')}`;
    } catch {
      await sleep(200); // the profile is still being written
    }
  }
  return 'no profile was written';
}

async function waitForLine(
  child: ChildProcess,
  pattern: RegExp,
  ms: number,
  stream: 'stdout' | 'stderr' = 'stdout',
): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${ms} ms`)), ms);
    let text = '';
    child[stream]!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = pattern.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] ?? m[0]);
      }
    });
    child.once('exit', (code) => reject(new Error(`process exited with ${code}: ${text}`)));
  });
}

type Stops = Array<() => Promise<void> | void>;

/** The CLI's dev server on SQLite in `dir`, as `npm start` embeds it. */
async function startDevServer(
  dir: string,
  started: Stops,
): Promise<{ server: ChildProcess; address: string }> {
  const cli = await ensureTemporalCli();
  if (!cli) throw new Error('no Temporal CLI');
  const port = await freePort();
  const server = spawn(
    cli,
    [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--headless',
      '--db-filename',
      path.join(dir, 't.db'),
      '--log-level',
      'error',
      // As the embedded server of `npm start` runs it (src/temporal/connect.ts): a write-ahead log,
      // synced at checkpoints, instead of an fsync per transaction.
      ...DEV_SERVER_SQLITE_ARGS,
      ...values['dynamic-config'].flatMap((v) => ['--dynamic-config-value', v]),
    ],
    { stdio: 'ignore' },
  );
  started.push(() => void server.kill('SIGKILL'));
  return { server, address: `127.0.0.1:${port}` };
}

/** Temporal's own server on the bench's PostgreSQL, as prove:production runs it. */
async function startProductionServer(
  postgresUrl: string,
  dir: string,
  started: Stops,
): Promise<{ server: ChildProcess; address: string }> {
  if (values['dynamic-config'].length > 0)
    throw new Error('--dynamic-config is for the dev server; the production server reads dynamic.yaml');
  const temporal = await startProductionTemporal({ postgresUrl, dir, historyShards: HISTORY_SHARDS });
  started.push(() => temporal.stop());
  say(
    `Temporal server (production, PostgreSQL, ${HISTORY_SHARDS} history shards): schema ${temporal.schemaSeconds.toFixed(1)} s, ` +
      `up ${temporal.startSeconds.toFixed(1)} s`,
  );
  return { server: temporal.process, address: temporal.address };
}

/** How long ago each watched package was last read by its watcher (package_checks), in seconds. */
async function watcherReadAges(url: string) {
  const db = new PgClient({ connectionString: url });
  await db.connect();
  try {
    const { rows } = await db.query<{ age: string }>(
      'select extract(epoch from now() - checked_at) as age from package_checks',
    );
    const ages = rows.map((r) => Number(r.age));
    return {
      packages: ages.length,
      p50: quantile(ages, 0.5),
      p95: quantile(ages, 0.95),
      max: Math.max(0, ...ages),
      stale: ages.filter((a) => a > INTERVAL + 5).length,
    };
  } finally {
    await db.end();
  }
}

async function main(): Promise<void> {
  const started: Array<() => Promise<void> | void> = [];
  // Stopped from outside (Ctrl-C, `timeout`): stop what it started before going, as at the end of a run.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      say(`${signal}: stopping what the bench started`);
      void (async () => {
        for (const stop of started.reverse()) await Promise.resolve(stop()).catch(() => undefined);
        process.exit(130);
      })();
    });
  try {
    for (let i = 0; i < LOAD; i++) {
      const hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
      started.push(() => void hog.kill('SIGKILL'));
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-bench-'));
    started.push(() => rmSync(dir, { recursive: true, force: true }));
    // The ledger's PostgreSQL, and with --temporal production the Temporal server's too.
    const postgres = EMBEDDED ? null : await startPostgres();
    if (postgres) started.push(() => postgres.stop());
    const { server, address } = PRODUCTION
      ? await startProductionServer(postgres!.url, dir, started)
      : await startDevServer(dir, started);
    let connection: Connection | undefined;
    for (let i = 0; i < 100 && !connection; i++)
      connection = await Connection.connect({ address }).catch(async () => (await sleep(200), undefined));
    if (!connection) throw new Error('the Temporal server did not come up');
    started.push(() => connection!.close());
    const client = new Client({ connection });

    const registry = await TestRegistry.start();
    started.push(() => registry.stop());
    const proxy = await FaultProxy.start(registry.url);
    started.push(() => proxy.close());
    const t0 = Date.now();
    await pool(
      Array.from({ length: P }, (_, i) => i),
      8,
      async (i) => {
        await pushImage(registry.url, `bench/app${i}`, '1.0.0');
      },
    );
    say(`pushed ${P} images in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const config = path.join(dir, 'config.yaml');
    writeFileSync(
      config,
      `feeds:\n  - { id: bench, url: "${proxy.url}" }\nreceiverSecrets:\n  ci: { env: BENCH_RECEIVER_SECRET }\n`,
    );
    const apiPort = await freePort();
    // One process per role: `serve` with the embedded ledger; else `api` and WORKERS `worker`s.
    const roles = EMBEDDED ? ['serve'] : ['api', ...Array.from({ length: WORKERS }, () => 'worker')];
    const processes: Array<{ name: string; child: ChildProcess; port: number }> = [];
    let logLines = 0;
    const logged = new Map<string, number>();
    // The API process makes an admin token on its first start and prints it once.
    let token = '';
    const startRole = async (role: string, i: number) => {
      const port = role === 'worker' ? await freePort() : apiPort;
      const child = spawn(process.execPath, [path.resolve(__dirname, '../src/main.js'), role], {
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: address,
          FEED_TRIGGERS_API_PORT: String(port),
          FEED_TRIGGERS_CONFIG: config,
          FEED_TRIGGERS_DATA_DIR: dir,
          ...(postgres ? { DATABASE_URL: postgres.url } : {}),
          ...(values.memory ? { FEED_TRIGGERS_WORKER_MEMORY: values.memory } : {}),
          FEED_TRIGGERS_WATCHER_SHARDS: String(WATCHERS),
          ...(PROFILES && role === 'worker'
            ? {
                NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(path.resolve(__dirname, 'cpu-profile-preload.js'))}`,
                FEED_TRIGGERS_CPU_PROFILE: profilePath(i),
              }
            : {}),
          BENCH_RECEIVER_SECRET: RECEIVER_SECRET,
          ...(role === 'api' ? {} : WORKER_ENV),
        },
        // A profiled worker takes its start and stop over an IPC channel.
        stdio: ['ignore', 'pipe', 'pipe', ...(PROFILES && role === 'worker' ? ['ipc' as const] : [])],
      });
      started.push(() => void child.kill('SIGKILL'));
      // Everything the process says, kept for reading after the run.
      const kept = LOGS ? createWriteStream(path.join(LOGS, `${role}-${i}.log`)) : null;
      // A disk that fills up loses the copy, not the run.
      kept?.on('error', (err) => say(`--logs: ${role}-${i}.log: ${err.message}`));
      if (kept) started.push(() => void kept.end());
      // The SDK's logger writes to stderr, the service's own lines to stdout: count both.
      for (const stream of [child.stdout!, child.stderr!])
        stream.on('data', (d: Buffer) => {
          if (kept && !kept.writableEnded) kept.write(d);
          const lines = d.toString().split('\n');
          logLines += lines.length - 1;
          // What was logged, by message (a JSON line's msg, else its start), to say what the lines were.
          for (const line of lines.filter((l) => l.trim())) {
            const msg = /"msg":"([^"]{0,120})/.exec(line)?.[1] ?? line.slice(0, 120);
            logged.set(msg, (logged.get(msg) ?? 0) + 1);
          }
        });
      if (role === 'worker') await waitForLine(child, /"health":"([^"]+)"/, 120_000);
      // The admin token made on the first start goes to the terminal (stderr), not the log.
      else if (!token) token = await waitForLine(child, /^ {2}(ft_\S+)$/m, 120_000, 'stderr');
      else await waitForLine(child, /"api":"([^"]+)"/, 120_000);
      return { name: role === 'worker' ? `worker ${i}` : role, child, port };
    };
    for (const [i, role] of roles.entries()) processes.push(await startRole(role, i));
    // What a process costs before it holds any workflow: the base the worker's memory budget starts from.
    say(
      `RSS at start, nothing cached: ${processes.map((p) => `${p.name} ${(usage(p.child.pid!).rss / 1024 / 1024).toFixed(0)} MB`).join(', ')}`,
    );
    const api = `http://127.0.0.1:${apiPort}`;
    const call = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(`${api}${p}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    };

    // Projects and triggers as an operator creates them: one `apply -f` of a manifest.
    const manifest = path.join(dir, 'manifest.yaml');
    const lines = ['projects:'];
    for (let q = 0; q < PROJECTS; q++) {
      lines.push(`  - name: b${q}`, '    packages:');
      for (let k = 0; k < K; k++)
        lines.push(`      - { name: app${k}, feed: bench, package: bench/app${q * K + k} }`);
      lines.push('    triggers:');
      for (let i = 0; i < N; i++) {
        const t = triggerOf(i);
        if (t.project !== `b${q}`) continue;
        lines.push(
          K === 1
            ? `      - { name: ${t.name}, intervalSeconds: ${INTERVAL} }`
            : `      - { name: ${t.name}, watch: [${t.watch}], intervalSeconds: ${INTERVAL} }`,
        );
      }
    }
    writeFileSync(manifest, `${lines.join('\n')}\n`);
    // With --apply-only, the profiles cover the creation: from the apply to the settled queue.
    const creationProfiled =
      PROFILES && values['apply-only'] ? processes.filter((p) => p.name !== 'api') : [];
    for (const p of creationProfiled) {
      rmSync(profilePath(processes.indexOf(p)), { force: true });
      p.child.send('cpu-profile:start');
    }
    const c0 = Date.now();
    // What the creation costs each process (CPU seconds), the apply and what follows it.
    const creationCpu0 = [...processes.map((p) => usage(p.child.pid!).cpu), usage(server.pid!).cpu];
    const creationThreads0 = processes.map((p) => threadCpu(p.child.pid!));
    // Where each worker's CPU went during the creation, by thread (main thread, workflow thread, SDK core).
    const creationThreads = () =>
      processes
        .map((p, k) => ({ p, k }))
        .filter(({ p }) => p.name !== 'api')
        .map(({ p, k }) => {
          const busiest = busiestThreads(creationThreads0[k], threadCpu(p.child.pid!), 5).map(
            ([name, cpu]) => `${name} ${cpu.toFixed(0)} s`,
          );
          return `${p.name} ${busiest.join(', ')}`;
        })
        .join('; ');
    const apply = spawn(
      process.execPath,
      [
        path.resolve(__dirname, '../src/cli.js'),
        'apply',
        '-f',
        manifest,
        '--api',
        api,
        ...(values['apply-concurrency'] ? ['--concurrency', values['apply-concurrency']] : []),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FEED_TRIGGERS_TOKEN: token } },
    );
    let applyErrors = '';
    apply.stderr!.on('data', (d: Buffer) => (applyErrors += d.toString()));
    const code = await new Promise<number | null>((resolve) => apply.once('exit', resolve));
    if (code !== 0) throw new Error(`apply failed (${code}): ${applyErrors.slice(-2000)}`);
    const createSeconds = (Date.now() - c0) / 1000;
    // Where an apply's time goes: the API's mean answer time per route during it.
    const apiMetrics = await (await fetch(`${api}/metrics`)).text().catch(() => '');
    // One pass over the exposition lines: each route's `_sum` and `_count`, by their labels.
    const perRoute = new Map<string, { sum: number; count: number }>();
    for (const line of apiMetrics.split('\n')) {
      const m = /^feed_triggers_api_request_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/.exec(line);
      if (!m) continue;
      const entry = perRoute.get(m[2]) ?? { sum: 0, count: 0 };
      entry[m[1] as 'sum' | 'count'] = Number(m[3]);
      perRoute.set(m[2], entry);
    }
    const routeTimes = [...perRoute]
      .filter(([, r]) => r.count >= 10)
      .map(
        ([labels, r]) =>
          `${labels.replace(/"/g, '')}: ${((r.sum / r.count) * 1000).toFixed(0)} ms × ${r.count}`,
      );
    say(
      `apply -f of ${PROJECTS} projects (${K} package${K > 1 ? 's' : ''} each) and ${N} triggers: ` +
        `${createSeconds.toFixed(1)} s (${(N / createSeconds).toFixed(0)} triggers/s)`,
    );
    const creationCpu = (at: number[]) =>
      [...processes.map((p) => p.name), 'server']
        .map((name, k) => `${name} ${(at[k] - creationCpu0[k]).toFixed(0)} s`)
        .join(', ');
    const cpuNow = () => [...processes.map((p) => usage(p.child.pid!).cpu), usage(server.pid!).cpu];
    say(`CPU during the apply: ${creationCpu(cpuNow())}`);
    // Settled: no task has waited for a worker for a whole interval (a trigger created in bulk sleeps until
    // its slot, up to an interval, before its first poll: an empty queue before then is not the end of the
    // creation). Returns when the queue was last seen with a task, in seconds from the apply's start.
    const settle = async () => {
      let busyAt = Date.now();
      while (Date.now() - busyAt < INTERVAL * 1000 + 5000) {
        if (Date.now() - c0 > 45 * 60_000) throw new Error('the creation did not settle in 45 minutes');
        await sleep(2000);
        const backlogs = await Promise.all(
          [1, 2].map((taskQueueType) =>
            client.workflowService
              .describeTaskQueue({
                namespace: 'default',
                taskQueue: { name: 'feed-triggers' },
                taskQueueType,
                reportStats: true,
              })
              .then(({ stats }) => Number(stats?.approximateBacklogCount ?? 0))
              .catch(() => 1),
          ),
        );
        if (backlogs.some((b) => b > 0)) busyAt = Date.now();
      }
      return (busyAt - c0) / 1000;
    };
    if (values['apply-only']) {
      const settledAfter = await settle();
      for (const p of creationProfiled) p.child.send('cpu-profile:stop');
      let released = 0;
      for (let p = 0; p < PROJECTS; p++)
        if (((await call('GET', `/projects/b${p}/releases`)) as { releases: unknown[] }).releases.length > 0)
          released++;
      say(
        `settled ${settledAfter.toFixed(1)} s after the apply began (task queue empty since, for an interval); ` +
          `projects with a release: ${released} of ${PROJECTS}; CPU from the apply's start: ${creationCpu(cpuNow())} ` +
          `(by thread: ${creationThreads()}); ` +
          `worker RSS ${processes
            .filter((p) => p.name !== 'api')
            .map((p) => `${(usage(p.child.pid!).rss / 1024 / 1024).toFixed(0)} MB`)
            .join(' + ')}`,
      );
      for (const p of creationProfiled) {
        const file = profilePath(processes.indexOf(p));
        say(`${p.name} main thread over the creation: ${await summariseProfile(file)}; profile in ${file}`);
      }
      return;
    }

    if (routeTimes.length > 0) say(`API answers during the apply (mean): ${routeTimes.join('; ')}`);
    if (values.burst) {
      await receiverBurst(call, api, registry, processes, server.pid!);
      return;
    }

    // Let the first polls of the bulk create pass, then measure a steady window.
    if (values.settle)
      say(
        `settled ${(await settle()).toFixed(1)} s after the apply began (task queue empty since, for an interval); ` +
          `CPU from the apply's start: ${creationCpu(cpuNow())}; by thread: ${creationThreads()}`,
      );
    const warmup =
      values.warmup !== undefined ? count('warmup', 0, 3600) : values.settle ? 0 : Math.min(INTERVAL, 60);
    await sleep(warmup * 1000);
    // Poll lag is measured from here: with --restart, the window holds the restart and what follows it.
    const lagFrom = Date.now();
    if (values.restart) {
      // kill -9 the last worker and start another: its triggers' timers fire on the server meanwhile, and
      // the new worker meets every one of them uncached (each replays its history once).
      const k = processes.length - 1;
      processes[k].child.kill('SIGKILL');
      const killedAt = Date.now();
      processes[k] = await startRole('worker', k);
      say(
        `restart: worker killed (SIGKILL); the new one was healthy ${((Date.now() - killedAt) / 1000).toFixed(1)} s later`,
      );
    }
    if (values.kill) {
      const k = processes.length - 1;
      const [gone] = processes.splice(k, 1);
      gone.child.kill('SIGKILL');
      say(`kill: ${gone.name} killed (SIGKILL) at the window's start; no worker started in its place`);
    }
    // Everything down for OUTAGE seconds, then up again: the timers due meanwhile fire together.
    let restartedAt: number | null = null;
    if (OUTAGE > 0) {
      const stoppedAt = Date.now();
      await Promise.all(
        processes.map(
          (p) =>
            new Promise<void>((resolve) => {
              const kill = setTimeout(() => p.child.kill('SIGKILL'), 30_000);
              p.child.once('exit', () => (clearTimeout(kill), resolve()));
              p.child.kill('SIGTERM');
            }),
        ),
      );
      await sleep(Math.max(0, OUTAGE * 1000 - (Date.now() - stoppedAt)));
      for (const [i, role] of roles.entries()) processes[i] = await startRole(role, i);
      restartedAt = Date.now();
      say(`outage: every process stopped (SIGTERM) for ${OUTAGE} s, then started again`);
    }
    // The profiles cover the window: each worker's profiler starts here and is written at its end.
    const profiled = PROFILES ? processes.filter((p) => p.name !== 'api') : [];
    const profileFile = (p: (typeof processes)[number]) => profilePath(processes.indexOf(p));
    for (const p of profiled) {
      rmSync(profileFile(p), { force: true }); // an earlier run's profile is not this one's
      p.child.send('cpu-profile:start');
    }
    const windowStart = Date.now();
    const listingsBefore = proxy.count(/\/tags\/list/);
    const manifestsBefore = proxy.count(/\/manifests\//);
    const evictions0 = await evictionsByReason(processes);
    const pgPort = postgres ? new URL(postgres.url).port : null;
    const u0 = { server: usage(server.pid!), postgres: pgPort ? postgresCpu(pgPort) : NaN };
    const each0 = processes.map((p) => usage(p.child.pid!));
    const threads0 = processes.map((p) => threadCpu(p.child.pid!));
    const rss = { server: [] as number[] };
    const eachRss = processes.map(() => [] as number[]);
    const logsBefore = logLines;
    logged.clear();
    const loadAverage: number[] = [];
    // The shared task queue's backlog (tasks no worker has taken yet), sampled with the RSS.
    const backlog = { workflow: [] as number[], activity: [] as number[], ageMs: [] as number[], missed: 0 };
    const sampleQueue = async () => {
      for (const [kind, type] of [
        ['workflow', 1],
        ['activity', 2],
      ] as const) {
        const { stats } = await client.workflowService
          .describeTaskQueue({
            namespace: 'default',
            taskQueue: { name: 'feed-triggers' },
            taskQueueType: type,
            reportStats: true,
          })
          .catch(() => ({ stats: null }));
        // A sample the server did not answer is left out, not counted as an empty queue.
        if (!stats) {
          backlog.missed++;
          continue;
        }
        backlog[kind].push(Number(stats.approximateBacklogCount ?? 0));
        if (kind === 'workflow') {
          const age = stats.approximateBacklogAge;
          backlog.ageMs.push(Number(age?.seconds ?? 0) * 1000 + Math.floor((age?.nanos ?? 0) / 1e6));
        }
      }
    };
    // Half-way through the window, a new version of the first PUSHED packages (no webhook: found by polling
    // or by the package's watcher); each of their projects must release it once.
    let pushedAt: number | null = null;
    const pushing = sleep((DURATION * 1000) / 2).then(async () => {
      pushedAt = Date.now();
      await pool(
        Array.from({ length: PUSHED }, (_, p) => p),
        4,
        async (p) => void (await pushImage(registry.url, `bench/app${pushedPackage(p)}`, '1.1.0')),
      );
    });
    // After an outage: listings and workflow tasks (the workers' completed tasks) per 5 s since the start.
    const herd = { listings: [] as number[], workflowTasks: [] as number[] };
    let herdLast = { listings: proxy.count(/\/tags\/list/), workflowTasks: 0 };
    const workflowTasksDone = async () => {
      let sum = 0;
      for (const p of processes.filter((q) => q.name !== 'api')) {
        const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text().catch(() => '');
        sum += metricTotal(text, 'temporal_workflow_task_execution_latency_count') ?? 0;
      }
      return sum;
    };
    while (Date.now() - windowStart < DURATION * 1000) {
      await sleep(5000);
      if (restartedAt !== null && Date.now() - restartedAt <= 2 * INTERVAL * 1000 + 5000) {
        const now = { listings: proxy.count(/\/tags\/list/), workflowTasks: await workflowTasksDone() };
        herd.listings.push(now.listings - herdLast.listings);
        herd.workflowTasks.push(now.workflowTasks - herdLast.workflowTasks);
        herdLast = now;
      }
      processes.forEach((p, k) => eachRss[k].push(usage(p.child.pid!).rss));
      rss.server.push(usage(server.pid!).rss);
      loadAverage.push(os.loadavg()[0]);
      await sampleQueue();
    }
    await pushing;
    const windowEnd = Date.now();
    for (const p of profiled) p.child.send('cpu-profile:stop');
    const seconds = (windowEnd - windowStart) / 1000;
    const u1 = { server: usage(server.pid!), postgres: pgPort ? postgresCpu(pgPort) : NaN };
    const each1 = processes.map((p) => usage(p.child.pid!));
    const threads1 = processes.map((p) => threadCpu(p.child.pid!));
    const listings = proxy.count(/\/tags\/list/) - listingsBefore;
    const manifests = proxy.count(/\/manifests\//) - manifestsBefore;
    const evictions1 = await evictionsByReason(processes);
    // With watchers a trigger polls only when woken: how recent its packages' reads are is what its watcher did,
    // read from the ledger (package_checks) as the window ends.
    const watcherReads = postgres && WATCHERS > 0 ? await watcherReadAges(postgres.url) : null;

    // Poll lag: gaps between consecutive evaluations beyond the interval, and triggers not polled at all.
    const lags: number[] = [];
    let unpolled = 0;
    let unanswered = 0;
    let sampleEvents = 0;
    let sampleIterations = 0;
    let diagnostics = '';
    let sampleKinds = '';
    let sampleRun = '';
    // Every trigger's history up to LAG_SAMPLE triggers, else an even sample of them: a query each, and at
    // 10,000 triggers most are replayed to answer (the cache holds fewer), which took longer than the window
    // itself: a few at once, and none started past LAG_READ_MS.
    const sampled = Array.from({ length: Math.min(N, LAG_SAMPLE) }, (_, k) =>
      Math.floor((k * N) / Math.min(N, LAG_SAMPLE)),
    );
    // Read in a stride order, so the triggers read before the time runs out are spread too.
    const stride = sampled.length % 7919 === 0 ? 1 : 7919;
    const order = sampled.map((_, k) => sampled[(k * stride) % sampled.length]);
    const readsUntil = Date.now() + LAG_READ_MS;
    let historiesRead = 0;
    await pool(order, 8, async (i) => {
      if (Date.now() > readsUntil) return;
      historiesRead++;
      const { project: p, name: t } = triggerOf(i);
      let history: Array<{ at: string }>;
      try {
        ({ history } = (await call('GET', `/triggers/${p}/${t}/history`)) as {
          history: Array<{ at: string }>;
        });
      } catch {
        unanswered++; // the worker did not answer the query in time: itself a finding
        return;
      }
      const times = history
        .map((h) => Date.parse(h.at))
        .filter((x) => x >= lagFrom && x <= windowEnd)
        .sort();
      if (times.length === 0) unpolled++;
      for (let k = 1; k < times.length; k++)
        lags.push(Math.max(0, (times[k] - times[k - 1]) / 1000 - INTERVAL));
    });
    // Events per idle iteration in the sample trigger's current run (runs continue as new).
    // One idle iteration: the events between the last two evaluations of a trigger's current run.
    // Watched idle triggers rarely have two evaluations in a run: a few tries, within 30 s.
    const sampleUntil = Date.now() + 30_000;
    for (let i = N - 1; i >= Math.max(0, N - 10) && sampleIterations === 0 && Date.now() < sampleUntil; i--) {
      const { project: p, name: t } = triggerOf(i);
      const sample = client.workflow.getHandle(`trigger/${p}/${t}`);
      const runStart = (await sample.describe()).startTime.getTime();
      const events = (await sample.fetchHistory()).events ?? [];
      const { history } = (await call('GET', `/triggers/${p}/${t}/history`).catch(() => ({
        history: [],
      }))) as {
        history: Array<{ at: string; outcome: string }>;
      };
      const times = history
        .filter((h) => h.outcome === 'no-change')
        .map((h) => Date.parse(h.at))
        .filter((x) => x >= runStart)
        .sort((a, b) => a - b);
      if (times.length < 2) continue;
      const at = (e: (typeof events)[number]) =>
        Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
      const [from, to] = times.slice(-2);
      const iteration = events.filter((e) => at(e) > from && at(e) <= to);
      sampleEvents = iteration.length;
      sampleKinds = iteration.map((e) => EventType[e.eventType ?? 0].replace(/^EVENT_TYPE_/, '')).join(' ');
      // The whole run, with what each marker, activity and upsert was: why an iteration is longer than six.
      sampleRun = events
        .map((e) => {
          const kind = EventType[e.eventType ?? 0].replace(/^EVENT_TYPE_/, '');
          const marker = e.markerRecordedEventAttributes?.markerName;
          const activity = e.activityTaskScheduledEventAttributes?.activityType?.name;
          const upsert = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
          const failed = e.workflowTaskFailedEventAttributes?.failure?.message;
          const detail =
            marker ?? activity ?? (upsert ? Object.keys(upsert).join('+') : failed?.slice(0, 80));
          return detail ? `${kind}(${detail})` : kind;
        })
        .join(' ');
      sampleIterations = 1;
      // Where an iteration's time goes: waiting for a worker (schedule-to-start) or running.
      const waits = { workflowTask: [] as number[], activity: [] as number[], activityRun: [] as number[] };
      const scheduled = new Map<string, number>();
      for (const e of events) {
        const id = String(e.eventId);
        if (e.workflowTaskScheduledEventAttributes) scheduled.set(`w${id}`, at(e));
        const wStarted = e.workflowTaskStartedEventAttributes;
        if (wStarted)
          waits.workflowTask.push(at(e) - (scheduled.get(`w${String(wStarted.scheduledEventId)}`) ?? at(e)));
        if (e.activityTaskScheduledEventAttributes) scheduled.set(`a${id}`, at(e));
        const aStarted = e.activityTaskStartedEventAttributes;
        if (aStarted) {
          waits.activity.push(at(e) - (scheduled.get(`a${String(aStarted.scheduledEventId)}`) ?? at(e)));
          scheduled.set(`s${String(aStarted.scheduledEventId)}`, at(e));
        }
        const aDone = e.activityTaskCompletedEventAttributes;
        if (aDone)
          waits.activityRun.push(at(e) - (scheduled.get(`s${String(aDone.scheduledEventId)}`) ?? at(e)));
      }
      const q = (xs: number[]) => `${quantile(xs, 0.5)}/${quantile(xs, 0.95)} ms`;
      diagnostics =
        `sample trigger/${p}/${t} over its run (p50/p95): workflow task schedule-to-start ${q(waits.workflowTask)}, ` +
        `activity schedule-to-start ${q(waits.activity)}, activity start-to-close ${q(waits.activityRun)}, ` +
        `${events.length} events in the run`;
    }

    // Push to release: each project on a pushed package, from the push to its release of 1.1.0.
    const pushToRelease: number[] = [];
    let notReleased = 0;
    await pool(
      Array.from({ length: PUSHED }, (_, p) => p),
      8,
      async (p) => {
        // Counted from the push, not from here: the history reads before this already took their time.
        const deadline = pushedAt! + (INTERVAL + 120) * 1000;
        for (;;) {
          const { releases } = (await call('GET', `/projects/b${p}/releases`)) as {
            releases: Array<{ createdAt: string; packages: Array<{ tag: string }> }>;
          };
          const found = releases.find((r) => r.packages.some((x) => x.tag === '1.1.0'));
          if (found) return void pushToRelease.push((Date.parse(found.createdAt) - pushedAt!) / 1000);
          if (Date.now() > deadline) return void notReleased++;
          await sleep(1000);
        }
      },
    );
    // History events of idle triggers (on packages not pushed) over the window, per hour.
    const idleEvents: number[] = [];
    // What those events were (summed over the sampled triggers): timed-out or failed workflow tasks, signals.
    const idleKinds = new Map<string, number>();
    const idle: number[] = [];
    for (let i = N - 1; i >= 0 && idle.length < 20; i--) if (!isPushed(i % P)) idle.push(i);
    // From the server's store, not the worker: a few at once.
    await pool(idle, 4, async (i) => {
      const { project: ip, name: it } = triggerOf(i);
      const events = (await client.workflow.getHandle(`trigger/${ip}/${it}`).fetchHistory()).events ?? [];
      const inWindow = events.filter((e) => {
        const at = Number(e.eventTime?.seconds ?? 0) * 1000;
        return at >= windowStart && at <= windowEnd;
      });
      idleEvents.push(inWindow.length / (seconds / 3600));
      for (const e of inWindow) {
        const kind = EventType[e.eventType ?? 0].replace(/^EVENT_TYPE_/, '');
        idleKinds.set(kind, (idleKinds.get(kind) ?? 0) + 1);
      }
    });

    const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
    say('');
    say(
      `push to release (${PUSHED} packages pushed, no webhooks${WATCHERS > 0 ? `, ${WATCHERS} watcher shards` : ''}): ` +
        `p50 ${quantile(pushToRelease, 0.5).toFixed(1)} s, p95 ${quantile(pushToRelease, 0.95).toFixed(1)} s, ` +
        `max ${Math.max(0, ...pushToRelease).toFixed(1)} s` +
        (notReleased > 0 ? `; ${notReleased} projects not released within the interval + 2 min` : ''),
    );
    say(
      `history events per idle trigger per hour (median / max of ${idleEvents.length} triggers over the window): ` +
        `${quantile(idleEvents, 0.5).toFixed(0)} / ${Math.max(0, ...idleEvents).toFixed(0)}`,
    );
    say(
      `  their events in the window: ${[...idleKinds]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${n} ${k}`)
        .join(', ')}`,
    );
    const evicted = [...evictions1]
      .map(([reason, n]) => [reason, n - (evictions0.get(reason) ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]);
    say(
      `workflow evictions in the window, by reason: ${evicted.map(([r, n]) => `${n} ${r}`).join(', ') || 'none'}`,
    );
    say(
      `manifest requests per package per interval: ${(manifests / P / (seconds / INTERVAL)).toFixed(2)} ` +
        `(${manifests} in the window)`,
    );
    const cpu = (k: number) => `${(((each1[k].cpu - each0[k].cpu) / seconds) * 100).toFixed(0)} %`;
    const workers = processes.map((p, k) => ({ ...p, k })).filter((p) => p.name !== 'api');
    say(
      `| triggers | packages | ledger | Temporal | poll lag p50 / p95 / max (histories read) | not polled | worker RSS (max) | worker CPU | server RSS (max) | server CPU | PostgreSQL CPU | listings per package per interval | history events per iteration | log lines/min |`,
    );
    say(`| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`);
    say(
      `| ${N} | ${P} | ${EMBEDDED ? 'embedded' : 'postgres'} | ${PRODUCTION ? 'production' : 'dev'} | ` +
        `${quantile(lags, 0.5).toFixed(1)} / ${quantile(lags, 0.95).toFixed(1)} / ${Math.max(0, ...lags).toFixed(1)} s (${historiesRead} of ${N}) | ${unpolled} | ` +
        `${workers.map((w) => mb(Math.max(...eachRss[w.k]))).join(' + ')} | ${workers.map((w) => cpu(w.k)).join(' + ')} | ` +
        `${mb(Math.max(...rss.server))} | ${(((u1.server.cpu - u0.server.cpu) / seconds) * 100).toFixed(0)} % | ` +
        `${Number.isNaN(u0.postgres) ? '-' : `${(((u1.postgres - u0.postgres) / seconds) * 100).toFixed(0)} %`} | ` +
        `${(listings / P / (seconds / INTERVAL)).toFixed(2)} | ${(sampleEvents / Math.max(1, sampleIterations)).toFixed(1)} | ${(((logLines - logsBefore) / seconds) * 60).toFixed(0)} |`,
    );
    for (const [k, p] of processes.entries()) {
      // Where the memory is, from the process's own /metrics: V8's heap, memory outside it, the SDK's cache.
      const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text().catch(() => '');
      const gauge = (name: string) => metricTotal(text, name) ?? NaN;
      if (p.name !== 'api') {
        say(`${p.name} SDK: ${sdkSummary(text)}`);
        for (const h of ['workflow_task_execution_latency', 'workflow_task_schedule_to_start_latency'])
          say(`${p.name} ${h}: ${histogramQuantiles(text, `temporal_${h}`, [0.5, 0.95, 0.99])}`);
      }
      say(
        `${p.name}: RSS max ${mb(Math.max(...eachRss[k]))}, CPU ${cpu(k)}; now heap used/total ` +
          `${mb(gauge('feed_triggers_nodejs_heap_size_used_bytes'))} / ${mb(gauge('feed_triggers_nodejs_heap_size_total_bytes'))}, ` +
          `external ${mb(gauge('feed_triggers_nodejs_external_memory_bytes'))}, RSS ${mb(gauge('feed_triggers_process_resident_memory_bytes'))}, ` +
          `SDK sticky cache ${gauge('temporal_sticky_cache_size')} workflows`,
      );
      // Whether the RSS is flat: its median in each tenth of the window (samples every 5 s).
      const tenths = Array.from({ length: 10 }, (_, t) =>
        eachRss[k].slice(
          Math.floor((t * eachRss[k].length) / 10),
          Math.floor(((t + 1) * eachRss[k].length) / 10),
        ),
      ).filter((xs) => xs.length > 0);
      if (p.name !== 'api' && tenths.length === 10)
        say(
          `${p.name}: RSS median in each tenth of the window: ${tenths.map((xs) => mb(quantile(xs, 0.5))).join(', ')}`,
        );
    }
    say(
      `window: ${seconds.toFixed(1)} s (${(seconds / INTERVAL).toFixed(2)} intervals); ${listings} tag listings of ` +
        `${P} packages through the registry proxy`,
    );
    if (watcherReads)
      say(
        `watchers' reads at the window's end: ${watcherReads.packages} packages, the last read of each p50 ` +
          `${watcherReads.p50.toFixed(1)} s / p95 ${watcherReads.p95.toFixed(1)} s / max ${watcherReads.max.toFixed(1)} s ` +
          `ago; ${watcherReads.stale} older than the interval + 5 s`,
      );
    say(
      `load average (1 min) over the window: median ${quantile(loadAverage, 0.5).toFixed(1)}, max ` +
        `${Math.max(...loadAverage).toFixed(1)} on ${os.cpus().length} cores` +
        (LOAD > 0 ? `, with ${LOAD} CPU-burning processes beside the service` : ''),
    );
    for (const p of profiled) {
      const file = profileFile(p);
      say(`${p.name} main thread over the window: ${await summariseProfile(file)}; profile in ${file}`);
    }
    if (diagnostics) say(diagnostics);
    if (logged.size > 0)
      say(
        `logged in the window: ${[...logged]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([m, n]) => `${n}× ${m}`)
          .join('; ')}`,
      );
    if (sampleKinds) say(`its last idle iteration: ${sampleKinds}`);
    if (sampleRun) say(`its run: ${sampleRun}`);
    for (const [k, p] of processes.entries()) {
      if (p.name === 'api') continue;
      const busiest = busiestThreads(threads0[k], threads1[k], 6).map(
        ([name, cpu]) => `${name} ${((cpu / seconds) * 100).toFixed(0)} %`,
      );
      say(`${p.name} CPU by thread: ${busiest.join(', ')}`);
    }
    say(
      `task queue backlog (median / max of ${backlog.workflow.length} samples): workflow tasks ` +
        `${quantile(backlog.workflow, 0.5)} / ${Math.max(0, ...backlog.workflow)} ` +
        `(oldest ${(Math.max(0, ...backlog.ageMs) / 1000).toFixed(1)} s), activity tasks ` +
        `${quantile(backlog.activity, 0.5)} / ${Math.max(0, ...backlog.activity)}` +
        (backlog.missed > 0 ? `; ${backlog.missed} samples not answered` : ''),
    );
    if (unanswered > 0)
      say(`history queries not answered within the API's 30 s: ${unanswered} of ${historiesRead}`);
    if (historiesRead < N)
      say(
        `poll lag and "not polled" from ${historiesRead} of ${N} triggers, evenly spread` +
          (historiesRead < sampled.length
            ? ` (${sampled.length} sampled; the rest not read within ${LAG_READ_MS / 1000} s)`
            : ''),
      );
    if (herd.listings.length > 0) {
      const steady = P / (INTERVAL / 5);
      say(
        `after the outage, per 5 s over two intervals (steady state: ${steady.toFixed(1)} listings): listings ` +
          `${herd.listings.join(' ')} (max ${Math.max(...herd.listings)}, ${(Math.max(...herd.listings) / steady).toFixed(1)}× steady); ` +
          `workflow tasks ${herd.workflowTasks.join(' ')} (max ${Math.max(...herd.workflowTasks)})`,
      );
    }
    // Never twice, never lost, never backwards: the triggers of a project (on one or several workers) raced to
    // release each version. Every project released, no two of its releases hold the same versions, no release
    // holds a package older than the release before it (the one channel), and exactly the first PUSHED projects
    // released the pushed 1.1.0, once each (a project of several packages may release its first versions in
    // more than one release, as its triggers find them).
    const faults = new Map<string, number>();
    const fault = (what: string) => faults.set(what, (faults.get(what) ?? 0) + 1);
    // Compared as the service compares image tags (Octopus's Docker precedence, no rule).
    const anyTag = compileRule({}, 'docker');
    await pool(
      Array.from({ length: PROJECTS }, (_, p) => p),
      16,
      async (p) => {
        const { releases } = (await call('GET', `/projects/b${p}/releases?limit=100`)) as {
          releases: Array<{ packages: Array<{ name: string; tag: string }> }>;
        };
        const sets = releases.map((r) =>
          r.packages
            .map((x) => `${x.name}:${x.tag}`)
            .sort()
            .join(','),
        );
        if (releases.length === 0) fault('no release');
        if (new Set(sets).size !== sets.length) fault('the same versions released twice');
        // Newest first: each release against the one before it, package by package.
        for (let i = 0; i + 1 < releases.length; i++) {
          const before = new Map(releases[i + 1].packages.map((x) => [x.name, x.tag]));
          const back = releases[i].packages.some((x) => {
            const earlier = before.get(x.name);
            return earlier !== undefined && isLaterTag(anyTag, earlier, x.tag);
          });
          if (back) fault('a package moved back');
        }
        const pushes = releases.filter((r) => r.packages.some((x) => x.tag === '1.1.0')).length;
        if (pushes !== (p < PUSHED ? 1 : 0)) fault(`${pushes} releases of the push`);
      },
    );
    const oneEach = faults.size === 0 && notReleased === 0;
    say(
      oneEach
        ? `releases: one per project per version (${PUSHED} pushed projects released 1.1.0 once, ${PROJECTS - PUSHED} others not)`
        : `releases: ${[...faults].map(([what, n]) => `${n} projects with ${what}`).join(', ')}`,
    );
    if (!oneEach) process.exitCode = 1;
    say(
      `creation: ${(N / createSeconds).toFixed(0)} triggers/s with apply -f; window ${seconds.toFixed(0)} s`,
    );
  } finally {
    for (const stop of started.reverse()) await Promise.resolve(stop()).catch(() => undefined);
  }
}

const RECEIVER_SECRET = 'Bench-Receiver-Secret';

async function receiverBurst(
  call: (method: string, p: string, body?: unknown) => Promise<unknown>,
  api: string,
  registry: TestRegistry,
  processes: Array<{ name: string; child: ChildProcess }>,
  serverPid: number,
): Promise<void> {
  const burstPackages = Math.min(50, P);
  const { url } = (await call('POST', '/receivers', {
    name: 'ci',
    type: 'generic-hmac',
    secret: { secret: 'ci' },
  })) as { url: string };
  const triggersOf = (p: number) =>
    Array.from({ length: Math.ceil((N - p) / P) }, (_, k) => `t${k}`).filter((_, k) => p + k * P < N);
  type History = { history: Array<{ source?: string; outcome: string }> };
  const releases = async (p: number) =>
    (
      (await call('GET', `/projects/b${p}/releases`)) as {
        releases: Array<{ packages: Array<{ tag: string }> }>;
      }
    ).releases;
  // Every trigger has made its first evaluation and the project its first release.
  const until = async (what: string, ok: () => Promise<boolean>) => {
    for (const deadline = Date.now() + 300_000; !(await ok()); await sleep(1000))
      if (Date.now() > deadline) throw new Error(`burst: ${what} did not happen within 5 minutes`);
  };
  for (let p = 0; p < burstPackages; p++)
    await until(`b${p}'s first release`, async () => (await releases(p)).length >= 1);
  await pool(
    Array.from({ length: burstPackages }, (_, p) => p),
    8,
    async (p) => void (await pushImage(registry.url, `bench/app${p}`, '1.1.0')),
  );
  const before = processes.map((p) => usage(p.child.pid!).cpu);
  const serverBefore = usage(serverPid).cpu;
  const result = await sendBurst({
    api,
    hook: url,
    secret: RECEIVER_SECRET,
    feed: 'bench',
    packages: Array.from({ length: burstPackages }, (_, p) => `bench/app${p}`),
    probe: () => call('GET', '/projects/b0'),
  });
  const cpu = processes.map(
    (p, k) => `${p.name} ${(((usage(p.child.pid!).cpu - before[k]) / result.seconds) * 100).toFixed(0)} %`,
  );
  cpu.push(`server ${(((usage(serverPid).cpu - serverBefore) / result.seconds) * 100).toFixed(0)} %`);
  const t0 = Date.now();
  for (let p = 0; p < burstPackages; p++)
    await until(`b${p}'s release of 1.1.0`, async () => (await releases(p))[0]?.packages[0].tag === '1.1.0');
  const settled = (Date.now() - t0) / 1000;
  const polls: number[] = [];
  for (let p = 0; p < burstPackages; p++) {
    if ((await releases(p)).length !== 2) throw new Error(`b${p} released 1.1.0 more than once`);
    for (const t of triggersOf(p)) {
      const { history } = (await call('GET', `/triggers/b${p}/${t}/history`)) as History;
      polls.push(history.filter((h) => h.source === 'webhook ci').length);
    }
  }
  const perTrigger = 1000 / burstPackages;
  say(
    `receiver burst, ${burstPackages} packages, ${polls.length} triggers on them (${N} in all): ${describeBurst(result)}`,
  );
  say(
    `  CPU during the burst: ${cpu.join(', ')}; the last release ${settled.toFixed(1)} s after the burst; ` +
      `polls per trigger median ${quantile(polls, 0.5)}, max ${Math.max(...polls)} for ${perTrigger} notifications each; ` +
      `one release per project`,
  );
  if (result.refused > 0) throw new Error(`${result.refused} notifications were not accepted`);
}

main().then(
  // process.exitCode: 1 when a project did not get exactly one release.
  () => process.exit(),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
