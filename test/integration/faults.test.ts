import { sql } from 'kysely';
import { FeedError } from '../../src/feeds/errors';
import { TriggerState } from '../../src/domain/trigger';
import { FaultProxy } from '../support/fault-proxy';
import { startApi } from '../support/api';
import { feedClients, ociFeed } from '../support/feeds';
import { localActivities } from '../support/markers';
import { pushImage, TestRegistry } from '../support/registry';
import { putProject, releasesOf, startTrigger, waitForReleases } from '../support/projects';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let registry: TestRegistry;
let proxy: FaultProxy;

beforeAll(async () => {
  registry = await TestRegistry.start();
  proxy = await FaultProxy.start(registry.url);
  await pushImage(registry.url, 'team/web', '1.0.0');
  await pushImage(registry.url, 'team/web', '1.1.0');
});
afterAll(async () => {
  await proxy?.close();
  await registry?.stop();
});

const TAGS = /\/v2\/team\/web\/tags\/list/;

describe('the OCI client against a fault-injecting proxy', () => {
  // A generous timeout, so that a starved box cannot turn an injected answer into a timeout; the timeout
  // test passes its own short one.
  const client = (timeoutMs = 10_000) => feedClients(undefined, { timeoutMs }).oci;
  const feed = () => ociFeed('proxied', proxy.url);
  const failure = async (timeoutMs?: number): Promise<FeedError> =>
    (await client(timeoutMs)
      .listTags(feed(), 'team/web')
      .catch((e: unknown) => e)) as FeedError;

  test('429 carries the registry Retry-After and is retryable', async () => {
    proxy.inject(TAGS, { kind: 'status', status: 429, headers: { 'retry-after': '7' } });
    const err = await failure();
    expect([err.code, err.retryable, err.retryAfterMs]).toEqual(['RATE_LIMITED', true, 7000]);
  });

  test('5xx, timeouts and resets are retryable; the registry message is kept', async () => {
    proxy.inject(TAGS, { kind: 'status', status: 503 });
    let err = await failure();
    expect([err.code, err.retryable]).toEqual(['SERVER_ERROR', true]);
    expect(err.message).toMatch(/injected 503/);
    proxy.inject(TAGS, { kind: 'slow', ms: 1500 });
    err = await failure(500);
    // No answer in time reads like a refused connection: callers cannot map open, closed and filtered ports.
    expect([err.code, err.retryable]).toEqual(['NETWORK', true]);
    expect(err.message).toMatch(/could not be reached or gave no answer within 500 ms/);
    proxy.inject(TAGS, { kind: 'reset' });
    err = await failure();
    expect([err.code, err.retryable]).toEqual(['NETWORK', true]);
  });

  test('huge and garbage answers and links to other origins are clear, non-retryable errors', async () => {
    proxy.inject(TAGS, { kind: 'huge', bytes: 12 * 1024 * 1024 });
    let err = await failure();
    expect([err.code, err.retryable]).toEqual(['TOO_LARGE', false]);
    proxy.inject(TAGS, { kind: 'garbage' });
    err = await failure();
    expect([err.code, err.message]).toEqual(['BAD_RESPONSE', 'the tag list of team/web is not JSON']);
    proxy.inject(TAGS, { kind: 'cross-origin-link' });
    err = await failure();
    expect(err.code).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/another origin/);
  });

  test('not found, unauthorized and denied are not retryable', async () => {
    for (const [status, code] of [
      [404, 'NOT_FOUND'],
      [401, 'UNAUTHORIZED'],
      [403, 'DENIED'],
    ] as const) {
      proxy.inject(TAGS, { kind: 'status', status });
      const err = await failure();
      expect([err.code, err.retryable]).toEqual([code, false]);
    }
  });

  test('paginates with n and relative Link headers, 100 a page', async () => {
    // Ten pushes at a time: one after another, the 250 took most of this test.
    const tags = Array.from({ length: 250 }, (_, i) => `0.0.${i}`);
    for (let i = 0; i < tags.length; i += 10)
      await Promise.all(tags.slice(i, i + 10).map((tag) => pushImage(registry.url, 'team/many', tag)));
    const before = proxy.count(/team\/many\/tags/);
    proxy.pageSize = 100;
    const listing = await client().listTags(
      ociFeed('proxied', proxy.url, { kind: 'anonymous' }, { pageSize: 100 }),
      'team/many',
    );
    expect(listing.tags).toHaveLength(250);
    expect(new Set(listing.tags).size).toBe(250);
    expect(listing.requests).toBe(3);
    expect(proxy.count(/team\/many\/tags/) - before).toBe(3);
    proxy.pageSize = null;
  });

  test('a total tag cap gives a clear error', async () => {
    const err = (await client()
      .listTags(
        ociFeed('proxied', proxy.url, { kind: 'anonymous' }, { pageSize: 100, maxTags: 120 }),
        'team/many',
      )
      .catch((e: unknown) => e)) as FeedError;
    expect(err.code).toBe('TOO_LARGE');
    expect(err.message).toMatch(/more than 120 tags; raise maxTags for feed proxied/);
  });
});

describe('a trigger through the fault proxy', () => {
  let env: TestWorkerEnv;
  beforeAll(async () => {
    env = await startTestWorker({ feeds: new Map([['proxied', ociFeed('proxied', proxy.url)]]) });
  });
  afterAll(() => env?.stop());

  /** A project with one package on the proxied feed, and a trigger on it. */
  async function startWatching(name: string, pkg: string): Promise<() => Promise<TriggerState>> {
    await putProject(env, {
      name,
      packages: [{ name: 'web', feed: 'proxied', package: pkg }],
    });
    return startTrigger(env, { project: name, name: 'web', intervalSeconds: 60 });
  }

  test('waits as long as a 429 Retry-After asks, then releases, and records ratelimit-remaining', async () => {
    proxy.inject(TAGS, { kind: 'status', status: 429, headers: { 'retry-after': '5' } });
    proxy.extraHeaders = { 'ratelimit-remaining': '42;w=21600' };
    const since = proxy.requests.length;
    const state = await startWatching('faults-rate-limited', 'team/web');
    const [release] = await waitForReleases(env, 'faults-rate-limited', 1, 20_000);
    const s = await state();
    proxy.extraHeaders = {};
    expect(release.packages[0].tag).toBe('1.1.0');
    expect(s.packages.web.rateLimitRemaining).toBe(42);
    const listings = proxy.requests.slice(since).filter((r) => TAGS.test(r.path));
    expect(listings.length).toBe(2);
    expect(listings[1].at - listings[0].at).toBeGreaterThanOrEqual(4900);
  });

  test('a poll the server retries shows in the trigger from its first failed attempt', async () => {
    const api = await startApi(env);
    try {
      // The first evaluation's try runs on the worker (a local activity) and fails at once; the two 503s
      // after it are the durable activity's first attempts, which the server retries.
      proxy.inject(TAGS, { kind: 'status', status: 503 }, 3);
      await startWatching('faults-retrying', 'team/web');
      const shown = await eventually(
        async () => {
          const res = await api.request('GET', '/triggers/faults-retrying/web');
          return res.body.status === 'retrying' ? res.body : undefined;
        },
        'a retrying status',
        15_000,
      );
      expect(shown.retrying[0]).toMatchObject({ feed: 'proxied', package: 'team/web', maximumAttempts: 5 });
      expect(shown.retrying[0].attempt).toBeGreaterThanOrEqual(2);
      expect(shown.retrying[0].summary).toMatch(
        /^retrying: SERVER_ERROR: team\/web on feed proxied failed with 503: INJECTED: injected 503 \(attempt \d of 5\)$/,
      );
      // The retries end in a release; the status says so.
      await waitForReleases(env, 'faults-retrying', 1, 30_000);
      const after = await api.request('GET', '/triggers/faults-retrying/web');
      expect([after.body.status, after.body.retrying]).toEqual(['active', []]);
    } finally {
      await api.close();
    }
  });

  test('an idle poll that fails on the worker is retried as a durable activity after the Retry-After', async () => {
    await pushImage(registry.url, 'team/idle', '1.0.0');
    const state = await startWatching('faults-local-first', 'team/idle');
    await waitForReleases(env, 'faults-local-first', 1);
    const handle = env.client.workflow.getHandle('trigger/faults-local-first/web');
    // The poll after a release reloads the changed channel; the one after that is idle (local activity).
    for (let i = 0; i < 2; i++) {
      const before = (await state()).iterations;
      await handle.signal('pollNow');
      await eventually(async () => ((await state()).iterations > before ? true : undefined), 'a poll');
    }
    const idleTags = /\/v2\/team\/idle\/tags\/list/;
    const start = (await handle.fetchHistory()).events!.length;
    const since = proxy.requests.length;
    proxy.inject(idleTags, { kind: 'status', status: 429, headers: { 'retry-after': '3' } });
    await pushImage(registry.url, 'team/idle', '1.1.0');
    await handle.signal('pollNow');
    const [release] = await waitForReleases(env, 'faults-local-first', 2, 20_000);
    expect(release.packages[0].tag).toBe('1.1.0');
    const listings = proxy.requests.slice(since).filter((r) => idleTags.test(r.path));
    expect(listings.length).toBeGreaterThanOrEqual(2);
    expect(listings[1].at - listings[0].at).toBeGreaterThanOrEqual(2900);
    // The local try is a marker; the retry is the durable activity, which the server retries and shows.
    const events = (await handle.fetchHistory()).events!.slice(start);
    const kinds = events
      .map((e) =>
        e.markerRecordedEventAttributes?.markerName === 'core_local_activity'
          ? 'local'
          : e.timerStartedEventAttributes
            ? 'timer'
            : e.activityTaskScheduledEventAttributes?.activityType?.name,
      )
      .filter((k): k is string => k !== undefined);
    // (The slice may begin with the previous iteration's marker and timer, written after its query answered.)
    const durable = kinds.indexOf('pollChannel');
    expect(durable).toBeGreaterThanOrEqual(2);
    expect(kinds.slice(durable - 2, durable + 1)).toEqual(['local', 'timer', 'pollChannel']);
    // The release is in the ledger before its activity answers the workflow: wait for the history entry.
    const s = await eventually(async () => {
      const now = await state();
      return now.history.at(-1)?.outcome === 'released' ? now : undefined;
    }, 'the release in the trigger history');
    expect(s.lastError).toBeNull();

    // A failure that cannot pass (404) is final on the local try: one request, the error in the state, the
    // trigger still running. (The poll after the release reloads the channel first; skip that one.)
    for (let i = 0; i < 2; i++) {
      const before = (await state()).iterations;
      await handle.signal('pollNow');
      await eventually(async () => ((await state()).iterations > before ? true : undefined), 'a poll');
    }
    const sinceGone = proxy.requests.length;
    proxy.inject(idleTags, { kind: 'status', status: 404 });
    const before = (await state()).iterations;
    await handle.signal('pollNow');
    const failed = await eventually(async () => {
      const now = await state();
      return now.iterations > before ? now : undefined;
    }, 'the failed poll');
    expect(failed.packages.web.error?.code).toBe('NOT_FOUND');
    expect(proxy.requests.slice(sinceGone).filter((r) => idleTags.test(r.path))).toHaveLength(1);
    expect((await handle.describe()).status.name).toBe('RUNNING');
  });

  test('retries a 5xx with backoff and releases without recording an error', async () => {
    proxy.inject(TAGS, { kind: 'status', status: 502 });
    const state = await startWatching('faults-flaky', 'team/web');
    await waitForReleases(env, 'faults-flaky', 1);
    // The ledger has the release a moment before the trigger records the activity's answer.
    const s = await eventually(async () => {
      const st = await state();
      return st.history.length > 0 ? st : undefined;
    }, 'the evaluation recorded');
    expect(s.lastError).toBeNull();
    expect(s.history.map((h) => h.outcome)).toEqual(['released']);
  });

  test('a release the worker fails to create in its workflow task is created by the durable activity, once', async () => {
    const project = 'faults-release-here';
    // A real refusal by the ledger's database: its first insert of a release of this project raises (a
    // sequence counts the tries, since a raise rolls back everything else the transaction did).
    await sql`CREATE SEQUENCE test_release_tries`.execute(env.database.db);
    await sql`
      CREATE FUNCTION test_refuse_first_release() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (SELECT name FROM projects WHERE id = NEW.project_id) = ${sql.lit(project)}
          AND nextval('test_release_tries') = 1 THEN
          RAISE EXCEPTION 'injected: the database refused the release';
        END IF;
        RETURN NEW;
      END $$`.execute(env.database.db);
    await sql`CREATE TRIGGER test_refuse_first_release BEFORE INSERT ON releases
      FOR EACH ROW EXECUTE FUNCTION test_refuse_first_release()`.execute(env.database.db);
    try {
      const state = await startWatching(project, 'team/web');
      const [release] = await waitForReleases(env, project, 1, 30_000);
      expect(release.packages[0].tag).toBe('1.1.0');
      const s = await eventually(async () => {
        const st = await state();
        return st.history.length > 0 ? st : undefined;
      }, 'the evaluation recorded');
      expect([s.lastError, s.history.map((h) => h.outcome)]).toEqual([null, ['released']]);
      const tries = await sql<{ n: string }>`SELECT last_value AS n FROM test_release_tries`.execute(
        env.database.db,
      );
      expect(Number(tries.rows[0].n)).toBe(2);
      // The try in the workflow task is a failed local activity; the durable activity after it made the release.
      const events = (await env.client.workflow.getHandle(`trigger/${project}/web`).fetchHistory()).events!;
      const kinds = events.flatMap((e) => {
        const [local] = localActivities([e]);
        if (local) return [`${local.type} here${local.failed ? ' failed' : ''}`];
        const scheduled = e.activityTaskScheduledEventAttributes?.activityType?.name;
        return scheduled ? [scheduled] : [];
      });
      expect(kinds.slice(0, 3)).toEqual(['pollChannel here', 'createRelease here failed', 'createRelease']);
      expect(await releasesOf(env, project)).toHaveLength(1);
    } finally {
      await sql`DROP TRIGGER test_refuse_first_release ON releases`.execute(env.database.db);
      await sql`DROP FUNCTION test_refuse_first_release()`.execute(env.database.db);
      await sql`DROP SEQUENCE test_release_tries`.execute(env.database.db);
    }
  });

  test('does not retry a 404: one request, then the error is in the state', async () => {
    const since = proxy.count(/team\/gone\/tags/);
    const state = await startWatching('faults-gone', 'team/gone');
    const s = await eventually(async () => {
      const st = await state();
      return st.lastError ? st : undefined;
    }, 'the not-found error');
    expect(s.lastError?.code).toBe('NOT_FOUND');
    expect(proxy.count(/team\/gone\/tags/) - since).toBe(1);
  });
});
