import { openDatabase, Database } from '../../src/db/open';
import { triggerWorkflowId } from '../../workflows/contracts/ids';
import { FaultProxy } from '../support/fault-proxy';
import { ociFeed } from '../support/feeds';
import { openTestDatabase } from '../support/database';
import { pushImage, TestRegistry } from '../support/registry';
import { putProject, startTrigger, waitForReleases } from '../support/projects';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';
import { registry as metricsRegistry } from '../../src/observability/metrics';

/**
 * Two workers on one task queue and one ledger database, as split roles run them: triggers on a package poll
 * in the same slot, on whichever worker holds them, and the registry sees one listing and one manifest
 * request per package per slot between both workers.
 */
const PACKAGES = 3;
const TRIGGERS_PER_PACKAGE = 6;
const INTERVAL_SECONDS = 10;

let registry: TestRegistry;
let proxy: FaultProxy;
let database: Database & { readonly url: string };
let other: Database;
let a: TestWorkerEnv;
let b: TestWorkerEnv;

const repo = (p: number) => `scaleout/app${p}`;
const project = (p: number) => `scaleout-p${p}`;

beforeAll(async () => {
  registry = await TestRegistry.start();
  proxy = await FaultProxy.start(registry.url);
  for (let p = 0; p < PACKAGES; p++) await pushImage(registry.url, repo(p), '1.0.0');
  database = await openTestDatabase();
  // The second worker's own connections to the same database, as a second process has.
  other = await openDatabase({ url: database.url, poolSize: 4 });
  const feeds = new Map([['scaleout', ociFeed('scaleout', proxy.url)]]);
  // The service's default cache TTL: without sharing, each worker would keep its own digest for 30 s.
  const common = { feeds, pollCacheMs: 30_000, shareReads: true };
  a = await startTestWorker({ ...common, database, identity: 'worker-a' });
  b = await startTestWorker({ ...common, database: other, taskQueue: a.taskQueue, identity: 'worker-b' });
});

afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await other?.close();
  await database?.close();
  await proxy?.close();
  await registry?.stop();
});

/** Groups a package's registry requests into the slots they were made in (slots are an interval apart). */
function slots(times: number[]): number[][] {
  const groups: number[][] = [];
  for (const t of [...times].sort((x, y) => x - y)) {
    const last = groups.at(-1);
    if (last && t - last[0] < (INTERVAL_SECONDS * 1000) / 2) last.push(t);
    else groups.push([t]);
  }
  return groups;
}

/** How many polls the poll-lag histogram has counted in this process (both workers of the file run here). */
async function lagCount(): Promise<number> {
  const text = await metricsRegistry.getSingleMetricAsString('feed_triggers_poll_lag_seconds');
  return Number(/^feed_triggers_poll_lag_seconds_count (\S+)$/m.exec(text)?.[1] ?? 0);
}

// First in the file: no other trigger polls meanwhile, so the count is this trigger's alone.
test("the poll-lag metric counts a trigger's local-activity polls, its first (unscheduled) one included", async () => {
  await pushImage(registry.url, 'scaleout/lag', '1.0.0');
  await putProject(a, {
    name: 'scaleout-lag',
    packages: [{ name: 'app', feed: 'scaleout', package: 'scaleout/lag' }],
  });
  const before = await lagCount();
  const state = await startTrigger(a, {
    project: 'scaleout-lag',
    name: 'lag',
    intervalSeconds: 10,
  });
  await waitForReleases(a, 'scaleout-lag', 1);
  // The first evaluation (due at no slot) and a scheduled one after it.
  await eventually(async () => ((await state()).history.length >= 2 ? true : undefined), 'two polls');
  // Each evaluation in the trigger's history was counted when its poll started, before it was recorded.
  const polls = (await state()).history.length;
  expect((await lagCount()) - before).toBeGreaterThanOrEqual(polls);
  const handle = a.client.workflow.getHandle(triggerWorkflowId('scaleout-lag', 'lag'));
  const events = (await handle.fetchHistory()).events ?? [];
  // The polls ran as local activities (markers in the history), none as a durable activity.
  const durable = events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? '');
  expect(durable.filter((name) => name.startsWith('poll'))).toEqual([]);
  expect(events.some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toBe(
    true,
  );
  await handle.signal('pause');
});

test('two workers list each package and read its digest once per interval between them', async () => {
  for (let p = 0; p < PACKAGES; p++) {
    await putProject(a, {
      name: project(p),
      packages: [{ name: 'app', feed: 'scaleout', package: repo(p) }],
    });
    for (let t = 0; t < TRIGGERS_PER_PACKAGE; t++)
      await startTrigger(a, {
        project: project(p),
        name: `t${t}`,
        intervalSeconds: INTERVAL_SECONDS,
      });
  }
  for (let p = 0; p < PACKAGES; p++) await waitForReleases(a, project(p), 1);
  const since = proxy.requests.length;

  // Three slots of every package after the creation's polls (the first may hold a trigger's late first poll),
  // the third whole: half an interval after it began, a later request would start a slot of its own.
  const closed = (groups: number[][]) =>
    groups.length >= 3 && Date.now() - groups[2][0] >= (INTERVAL_SECONDS * 1000) / 2;
  const byPackage = await eventually(
    async () => {
      const seen = proxy.requests.slice(since);
      const each = Array.from({ length: PACKAGES }, (_, p) => {
        const mine = seen.filter((r) => r.path.startsWith(`/v2/${repo(p)}/`));
        return {
          listings: slots(mine.filter((r) => r.path.includes('/tags/list')).map((r) => r.at)),
          heads: slots(
            mine.filter((r) => r.method === 'HEAD' && r.path.includes('/manifests/')).map((r) => r.at),
          ),
        };
      });
      return each.every((e) => closed(e.listings) && closed(e.heads)) ? each : undefined;
    },
    'three whole slots of polls of every package',
    90_000,
  );

  // The sharing is across workers only if both ran polls of one package: the histories say which ran what.
  const workersOf = async (p: number) => {
    const identities = new Set<string>();
    for (let t = 0; t < TRIGGERS_PER_PACKAGE; t++) {
      const history = await a.client.workflow
        .getHandle(triggerWorkflowId(project(p), `t${t}`))
        .fetchHistory();
      for (const e of history.events ?? [])
        if (e.workflowTaskStartedEventAttributes?.identity)
          identities.add(e.workflowTaskStartedEventAttributes.identity);
    }
    return identities;
  };
  const spread = await Promise.all(Array.from({ length: PACKAGES }, (_, p) => workersOf(p)));
  expect(spread.some((ids) => ids.has('worker-a') && ids.has('worker-b'))).toBe(true);

  for (const { listings, heads } of byPackage) {
    // Whole slots only: the first and the last seen may be cut by the window's edges.
    expect(listings.slice(1, 3).map((s) => s.length)).toEqual([1, 1]);
    expect(heads.slice(1, 3).map((s) => s.length)).toEqual([1, 1]);
  }
});
