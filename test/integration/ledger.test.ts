import { Kysely, PostgresDialect, sql } from 'kysely';
import { Pool } from 'pg';
import type { Schema } from '../../src/db/schema';
import { Database, openDatabase } from '../../src/db/open';
import { Ledger, LedgerError } from '../../src/db/ledger';
import { SharedDigests, SharedListings } from '../../src/db/feed-listings';
import { CreateReleaseRequest, ProjectSpecInput, ProjectSpecSchema } from '../../src/domain/project';
import { ReleasedPackage } from '../../src/domain/trigger';
import { startPostgres, TestPostgres } from '../support/postgres';

/** The ledger's rules on a real PostgreSQL server (the rest of the suite runs on the embedded PGlite). */
let pg: TestPostgres;
let database: Database;
let ledger: Ledger;

beforeAll(async () => {
  pg = await startPostgres();
  database = await openDatabase({ url: pg.url });
  ledger = new Ledger(database.db);
});

afterAll(async () => {
  await database?.close();
  await pg?.stop();
});

let projectCount = 0;
const spec = (extra: Partial<ProjectSpecInput> = {}) =>
  ProjectSpecSchema.parse({
    name: `shop-${++projectCount}`,
    packages: [
      { name: 'web', feed: 'docker.io', package: 'shop/web' },
      { name: 'worker', feed: 'docker.io', package: 'shop/worker' },
    ],
    channels: [{ name: 'stable', rules: [{ packages: ['web'], range: '[1.0,2.0)' }] }, { name: 'beta' }],
    destinations: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook' }],
    ...extra,
  });

const pkgs = (web: string, worker: string): ReleasedPackage[] => [
  { name: 'web', feed: 'docker.io', package: 'shop/web', tag: web, digest: `sha256:${web}` },
  { name: 'worker', feed: 'docker.io', package: 'shop/worker', tag: worker, digest: null },
];

const request = (
  web: string,
  worker: string,
  extra: Partial<CreateReleaseRequest> = {},
): CreateReleaseRequest => ({
  channel: 'stable',
  packages: pkgs(web, worker),
  watched: ['web'],
  requireLater: true,
  reason: 'test',
  source: { kind: 'trigger', trigger: 'trigger/shop/t' },
  key: `k-${web}-${worker}`,
  ...extra,
});

const now = new Date(Date.UTC(2026, 10, 26, 13, 5, 9));

async function project(extra: Partial<ProjectSpecInput> = {}) {
  const s = spec(extra);
  await ledger.saveProject(s);
  return s.name;
}

describe('the release ledger on PostgreSQL', () => {
  test('numbers releases 0.0.1, 0.0.2 ... across channels, and lists them newest first by page', async () => {
    const name = await project();
    expect((await ledger.createRelease(name, request('1.0.0', '2.0.0'), now)).release?.number).toBe('0.0.1');
    expect((await ledger.createRelease(name, request('1.1.0', '2.0.0'), now)).release?.number).toBe('0.0.2');
    const beta = await ledger.createRelease(
      name,
      request('1.1.0', '2.0.0', { channel: 'beta', key: 'b1' }),
      now,
    );
    expect(beta.release?.number).toBe('0.0.3');
    const first = await ledger.listReleases(name, { limit: 2 });
    expect(first?.releases.map((r) => r.number)).toEqual(['0.0.3', '0.0.2']);
    const second = await ledger.listReleases(name, { limit: 2, cursor: first!.nextCursor! });
    expect(second?.releases.map((r) => r.number)).toEqual(['0.0.1']);
    expect(second?.nextCursor).toBeNull();
    expect(
      (await ledger.listReleases(name, { channel: 'stable', limit: 10 }))?.releases.map((r) => r.number),
    ).toEqual(['0.0.2', '0.0.1']);
    const release = await ledger.getRelease((await ledger.getProject(name))!.id, '0.0.2');
    expect(release).toMatchObject({
      number: '0.0.2',
      channel: 'stable',
      createdAt: now.toISOString(),
      packages: pkgs('1.1.0', '2.0.0'),
      deliveries: { hook: { status: 'pending', attempts: 0, lastError: null, deliveredAt: null } },
    });
    // Keys in the order they were written, whatever order jsonb keeps them in.
    expect(Object.keys(release!.packages[0])).toEqual(['name', 'feed', 'package', 'tag', 'digest']);
  });

  test('never twice: a retried key, an already-released version set, and a set that is not later', async () => {
    const name = await project();
    await ledger.createRelease(name, request('1.1.0', '2.0.0'), now);
    expect(await ledger.createRelease(name, request('1.1.0', '2.0.0'), now)).toMatchObject({
      outcome: 'duplicate',
      release: { number: '0.0.1' },
      reason: 'idempotency key already used by release 0.0.1',
    });
    expect(await ledger.createRelease(name, request('1.1.0', '2.0.0', { key: 'other' }), now)).toMatchObject({
      outcome: 'already-released',
      reason: 'release 0.0.1 already holds these versions',
    });
    // Only the unwatched package moved: not a reason to release.
    expect(await ledger.createRelease(name, request('1.1.0', '2.1.0', { key: 'k3' }), now)).toMatchObject({
      outcome: 'not-later',
      release: null,
      reason: 'no watched package is later than in release 0.0.1',
    });
    expect((await ledger.createRelease(name, request('1.0.0', '2.1.0', { key: 'k4' }), now)).outcome).toBe(
      'not-later',
    );
    const manual = request('1.0.0', '2.1.0', { key: 'k5', requireLater: false, source: { kind: 'manual' } });
    expect((await ledger.createRelease(name, manual, now)).outcome).toBe('created');
    expect((await ledger.listReleases(name, { limit: 10 }))?.releases).toHaveLength(2);
  });

  test("a trigger's release keeps a package it takes along at the channel's last version, never older", async () => {
    const name = await project();
    const keep = 5 * 60_000;
    // Two packages pushed moments apart: worker's trigger released worker 2.1.0 first; web's trigger had
    // read worker at 2.0.0 before that push.
    expect((await ledger.createRelease(name, request('1.0.0', '2.1.0'), now, keep)).release?.number).toBe(
      '0.0.1',
    );
    const second = await ledger.createRelease(name, request('1.1.0', '2.0.0'), now, keep);
    expect(second).toMatchObject({
      outcome: 'created',
      release: { number: '0.0.2', packages: pkgs('1.1.0', '2.1.0') },
      reason: 'test; kept from release 0.0.1: worker 2.1.0 (read 2.0.0)',
    });
    expect((await ledger.getRelease((await ledger.getProject(name))!.id, '0.0.2'))?.reason).toBe(
      'test; kept from release 0.0.1: worker 2.1.0 (read 2.0.0)',
    );
    // The same versions again, however read: already released.
    const again = request('1.1.0', '2.0.0', { key: 'again' });
    expect((await ledger.createRelease(name, again, now, keep)).outcome).toBe('already-released');
    // A person's release is what they asked for, older or not.
    const manual = request('1.2.0', '2.0.0', { key: 'm', requireLater: false, source: { kind: 'manual' } });
    expect((await ledger.createRelease(name, manual, now, keep)).release?.packages).toEqual(
      pkgs('1.2.0', '2.0.0'),
    );
    // A last release older than the reads a request can hold came before them: the read is what the registry
    // holds now (worker 2.1.0 taken down), not brought back.
    const later = new Date(now.getTime() + keep + 1000);
    const afterIt = await ledger.createRelease(name, request('1.3.0', '1.9.0', { key: 'late' }), later, keep);
    expect(afterIt.release?.packages).toEqual(pkgs('1.3.0', '1.9.0'));
    // A version the channel's rule refuses now is not kept: web 2.5.0 (from a person) is outside [1.0,2.0).
    const other = await project();
    const pinned = request('2.5.0', '2.0.0', { key: 'p', requireLater: false, source: { kind: 'manual' } });
    await ledger.createRelease(other, pinned, now, keep);
    const byWorker = await ledger.createRelease(
      other,
      request('1.3.0', '2.2.0', { watched: ['worker'] }),
      now,
      keep,
    );
    expect(byWorker).toMatchObject({ outcome: 'created', release: { packages: pkgs('1.3.0', '2.2.0') } });
  });

  test('50 racing requests for one version set make one release; the others learn which', async () => {
    const name = await project();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        ledger.createRelease(name, request('1.2.0', '2.0.0', { key: `racer-${i}` }), now),
      ),
    );
    expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'already-released')).toHaveLength(49);
    expect(new Set(results.map((r) => r.release?.number))).toEqual(new Set(['0.0.1']));
    // 50 different version sets racing (pinned, as a person would): 50 releases, no gap, no repeat.
    const distinct = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        ledger.createRelease(name, request(`1.3.${i}`, '2.0.0', { key: `d-${i}`, requireLater: false }), now),
      ),
    );
    const numbers = distinct
      .map((r) => r.release!.number)
      .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
    expect(numbers).toEqual(Array.from({ length: 50 }, (_, i) => `0.0.${i + 2}`));
  });

  test('refuses requests that do not fit the configuration, and unknown projects', async () => {
    const name = await project();
    await expect(ledger.createRelease(name, request('1.0.0', '2.0.0', { channel: 'nope' }))).rejects.toThrow(
      /has no channel "nope"/,
    );
    await expect(
      ledger.createRelease(name, {
        ...request('1.0.0', '2.0.0'),
        packages: pkgs('1.0.0', '2.0.0').slice(0, 1),
      }),
    ).rejects.toThrow(/every package/);
    const missing = await ledger.createRelease('no-such', request('1.0.0', '2.0.0')).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(LedgerError);
    expect((missing as LedgerError).code).toBe('PROJECT_NOT_FOUND');
  });

  test('a donor package gives the release number; a repeat gets a suffix', async () => {
    const name = await project({ versioning: { donorPackage: 'web' } });
    const r = (web: string, worker: string, key: string) =>
      ledger.createRelease(name, request(web, worker, { watched: ['web', 'worker'], key }), now);
    expect((await r('v1.4.0', '2.0.0', 'a')).release?.number).toBe('1.4.0');
    expect((await r('v1.4.0', '2.1.0', 'b')).release?.number).toBe('1.4.0-1');
    expect((await r('v1.4.0', '2.2.0', 'c')).release?.number).toBe('1.4.0-2');
  });

  test('a trigger at the current revision gets no view; a release or a change gives it the new one', async () => {
    const name = await project();
    const view = (await ledger.channelView(name, 'stable'))!;
    expect(view).toMatchObject({ revision: 1, lastRelease: null });
    expect(await ledger.channelView(name, 'stable', 1)).toBeNull();
    await ledger.createRelease(name, request('1.0.0', '2.0.0'), now);
    expect(await ledger.channelView(name, 'stable', 1)).toMatchObject({
      revision: 2,
      lastRelease: { number: '0.0.1', packages: pkgs('1.0.0', '2.0.0') },
    });
    await expect(ledger.channelView(name, 'nope', 2)).resolves.toBeNull(); // unchanged: nothing to check
    await expect(ledger.channelView(name, 'nope', null)).rejects.toThrow(/has no channel "nope"/);
    await expect(ledger.channelView('no-such', 'stable', 1)).rejects.toThrow(/does not exist/);
  });

  test('a configuration change moves the revision and is kept as a revision; an unchanged one is not', async () => {
    const s = spec();
    expect(await ledger.saveProject(s)).toMatchObject({ created: true, changed: true, revision: 1 });
    expect(await ledger.saveProject(s)).toMatchObject({ created: false, changed: false, revision: 1 });
    expect(await ledger.saveProject({ ...s, destinations: [] })).toMatchObject({
      changed: true,
      revision: 2,
      configRevision: 2,
    });
    const revisions = await ledger.projectRevisions(s.name);
    expect(revisions?.map((r) => r.configRevision)).toEqual([2, 1]);
    expect(revisions?.[1].spec).toEqual(s);
    expect(JSON.stringify((await ledger.getProject(s.name))!.spec)).toBe(
      JSON.stringify({ ...s, destinations: [] }),
    );
  });

  test('filters by channel, package, version and creation time', async () => {
    const name = await project();
    const at = (d: number) => new Date(Date.UTC(2026, 0, d));
    await ledger.createRelease(name, request('1.0.0', '2.0.0'), at(1));
    await ledger.createRelease(name, request('1.1.0', '2.0.0'), at(2));
    await ledger.createRelease(name, request('1.1.0', '2.5.0', { channel: 'beta', key: 'b' }), at(3));
    const numbers = async (f: object) =>
      (await ledger.listReleases(name, { limit: 10, ...f }))!.releases.map((r) => r.number);
    expect(await numbers({ package: 'web', version: '1.1.0' })).toEqual(['0.0.3', '0.0.2']);
    expect(await numbers({ package: 'shop/worker', version: '2.5.0' })).toEqual(['0.0.3']);
    expect(await numbers({ version: '2.0.0' })).toEqual(['0.0.2', '0.0.1']);
    expect(await numbers({ package: 'web', version: '2.0.0' })).toEqual([]);
    expect(await numbers({ createdSince: at(2) })).toEqual(['0.0.3', '0.0.2']);
    expect(await numbers({ channel: 'beta', version: '1.1.0' })).toEqual(['0.0.3']);
    // Filter text is data, never SQL or a pattern.
    expect(await numbers({ version: "1.0.0' OR '1'='1" })).toEqual([]);
  });

  test('deleting keeps releases under the old name and frees it; purge removes everything', async () => {
    const s = spec();
    await ledger.saveProject(s);
    await ledger.createRelease(s.name, request('1.0.0', '2.0.0'), now);
    expect(await ledger.deleteProject(s.name, false)).toEqual({
      destinations: ['hook'],
      inFlight: ['0.0.1'],
      releases: 1,
    });
    expect(await ledger.getProject(s.name)).toBeNull();
    const kept = await database.db
      .selectFrom('deliveries')
      .select('status')
      .where('project_id', 'in', database.db.selectFrom('projects').select('id').where('name', '=', s.name))
      .execute();
    expect(kept.map((d) => d.status)).toEqual(['cancelled']);
    // The name is free: a new project numbers from 0.0.1 again and does not see the old releases.
    expect(await ledger.saveProject(s)).toMatchObject({ created: true, revision: 1 });
    expect((await ledger.createRelease(s.name, request('1.0.0', '2.0.0'), now)).outcome).toBe('created');
    expect((await ledger.listReleases(s.name, { limit: 10 }))!.releases.map((r) => r.number)).toEqual([
      '0.0.1',
    ]);
    expect(await ledger.deleteProject(s.name, true)).toMatchObject({ releases: 1 });
    const { n } = await database.db
      .selectFrom('releases')
      .innerJoin('projects', 'projects.id', 'releases.project_id')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('projects.name', '=', s.name)
      .executeTakeFirstOrThrow();
    expect(n).toBe(1); // the first project's release, kept; the purged one is gone
  });

  test('a destination queue: oldest first for `every`, only the newest of a channel for `latest`', async () => {
    const every = await project({
      destinations: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook', order: 'every' }],
    });
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await ledger.createRelease(every, request(v, '2.0.0'), now);
    const next = await ledger.nextDelivery(every, 'hook');
    expect(next).toMatchObject({ kind: 'deliver', number: '0.0.1', ended: [] });
    const start = await ledger.beginAttempt((next as { releaseId: number }).releaseId, 'hook');
    expect(start).toMatchObject({ kind: 'send', attempt: 1, release: { number: '0.0.1' } });
    expect(
      await ledger.recordAttempt((next as { releaseId: number }).releaseId, 'hook', 'delivered', null),
    ).toBe('delivered');
    expect(await ledger.nextDelivery(every, 'hook')).toMatchObject({ kind: 'deliver', number: '0.0.2' });

    const latest = await project();
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await ledger.createRelease(latest, request(v, '2.0.0'), now);
    await ledger.createRelease(latest, request('1.0.0', '2.0.0', { channel: 'beta', key: 'beta' }), now);
    const picked = await ledger.nextDelivery(latest, 'hook');
    expect(picked).toMatchObject({
      kind: 'deliver',
      number: '0.0.3',
      ended: [
        { number: '0.0.1', status: 'superseded' },
        { number: '0.0.2', status: 'superseded' },
      ],
    });
    const numbers = (await ledger.listReleases(latest, { limit: 10 }))!.releases.map((r) => [
      r.number,
      r.deliveries.hook.status,
    ]);
    expect(numbers).toEqual([
      ['0.0.4', 'pending'],
      ['0.0.3', 'pending'],
      ['0.0.2', 'superseded'],
      ['0.0.1', 'superseded'],
    ]);
    // A newer release arriving while an older one is retried supersedes it at its next attempt.
    const id = (picked as { releaseId: number }).releaseId;
    expect(await ledger.beginAttempt(id, 'hook')).toMatchObject({ kind: 'send', attempt: 1 });
    await ledger.recordAttempt(id, 'hook', 'pending', 'connection refused');
    await ledger.createRelease(latest, request('1.3.0', '2.0.0'), now);
    expect(await ledger.beginAttempt(id, 'hook')).toEqual({ kind: 'ended', status: 'superseded' });
    expect(
      (await ledger.getRelease((await ledger.getProject(latest))!.id, '0.0.3'))!.deliveries.hook,
    ).toMatchObject({
      status: 'superseded',
      attempts: 1,
      lastError: null,
    });
  });

  test('10,000 releases of 10 packages: creating the next and listing stay fast', async () => {
    const packages = Array.from({ length: 10 }, (_, i) => ({
      name: `p${i}`,
      feed: 'docker.io',
      package: `big/p${i}`,
    }));
    const s = spec({ packages, channels: [{ name: 'stable', rules: [] }] });
    await ledger.saveProject(s);
    const { id } = (await ledger.getProject(s.name))!;
    const digest = 'sha256:' + 'a'.repeat(64);
    // Bulk-load 10,000 releases in SQL, then go through the real path for the next one.
    await sql`
      INSERT INTO releases (project_id, number, channel, created_at, packages, version_set, reason, source, key)
      SELECT ${id}, '0.0.' || g, 'stable', now(),
        (SELECT jsonb_agg(jsonb_build_object('name', 'p' || i, 'feed', 'docker.io', 'package', 'big/p' || i,
          'tag', '1.0.' || g, 'digest', ${digest}::text)) FROM generate_series(0, 9) i),
        md5(g::text), 'bulk', '{"kind":"manual"}', 'bulk-' || g
      FROM generate_series(1, 10000) g`.execute(database.db);
    await sql`INSERT INTO channel_heads SELECT ${id}, 'stable', max(id), '0.0.10000' FROM releases WHERE project_id = ${id}`.execute(
      database.db,
    );
    await sql`UPDATE projects SET highest_number = '0.0.10000' WHERE id = ${id}`.execute(database.db);
    const next = packages.map((p) => ({ ...p, tag: '2.0.0', digest }));
    const created = await ledger.createRelease(s.name, {
      ...request('x', 'y'),
      packages: next,
      watched: ['p0'],
    });
    expect(created.release?.number).toBe('0.0.10001');
    const first = await ledger.listReleases(s.name, { limit: 100 });
    const page = await ledger.listReleases(s.name, { limit: 100, cursor: first!.nextCursor! });
    expect(first!.releases[0].number).toBe('0.0.10001');
    expect(page!.releases.map((r) => r.number)).toEqual(
      Array.from({ length: 100 }, (_, i) => `0.0.${9901 - i}`),
    );
    expect(
      (await ledger.listReleases(s.name, { limit: 5, package: 'p3', version: '1.0.777' }))!.releases.map(
        (r) => r.number,
      ),
    ).toEqual(['0.0.777']);
    // Fast stays fast by plan, not by a timed assertion (the figures come from `npm run bench:ledger`):
    // a page reads an index in order and stops, a version goes through the packages index, and neither
    // scans the table.
    await ledger.analyze();
    const plan = async (query: ReturnType<typeof sql>) =>
      (await sql`EXPLAIN ${query}`.execute(database.db)).rows
        .map((r) => Object.values(r as object)[0])
        .join('\n');
    const channelPage = await plan(
      sql`SELECT * FROM releases WHERE project_id = ${id} AND channel = 'stable' AND id < 5000 ORDER BY id DESC LIMIT 101`,
    );
    expect(channelPage).toMatch(/Index Scan/);
    expect(channelPage).not.toMatch(/Seq Scan|Sort/);
    const byVersion = await plan(
      sql`SELECT * FROM releases WHERE project_id = ${id} AND (packages @> '[{"name":"p3","tag":"1.0.777"}]'::jsonb OR packages @> '[{"package":"p3","tag":"1.0.777"}]'::jsonb) ORDER BY id + 0 DESC LIMIT 6`,
    );
    expect(byVersion).toMatch(/Bitmap Index Scan on releases_packages/);
    expect(byVersion).not.toMatch(/Seq Scan/);
  });
});

describe('tag listings shared by the workers of one ledger', () => {
  let other: Database;
  beforeAll(async () => {
    // A second worker: its own pool on the same database.
    other = await openDatabase({ url: pg.url });
  });
  afterAll(() => other?.close());

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** Waits, a few milliseconds at a time, until `done` holds: a fixed sleep loses the race on a busy box. */
  const until = async (done: () => boolean) => {
    for (let i = 0; !done(); i++) {
      if (i > 2_000) throw new Error('timed out');
      await sleep(5);
    }
  };
  const listing = (...tags: string[]) => ({ tags, rateLimitRemaining: 99, digests: null });
  /** A feed read that takes `ms` and counts its calls. */
  const feed = (ms: number, tags: string[], fail?: Error) => {
    const reads = { count: 0 };
    const read = async () => {
      reads.count++;
      await sleep(ms);
      if (fail) throw fail;
      return listing(...tags);
    };
    return { reads, read };
  };
  let keys = 0;
  const key = () => `reg.example|shop/web-${++keys}`;

  test('two workers polling one package at once read the feed once, and both get its listing', async () => {
    const [a, b] = [new SharedListings(database.db), new SharedListings(other.db)];
    const k = key();
    const { reads, read } = feed(200, ['1.0.0', '1.1.0']);
    const [fromA, fromB] = await Promise.all([a.get(k, 30_000, read), b.get(k, 30_000, read)]);
    expect(reads.count).toBe(1);
    expect(fromA.tags).toEqual(['1.0.0', '1.1.0']);
    expect(fromB).toEqual(fromA);
    // A listing young enough is shared later too; a poll that asks for a fresh one reads again, once.
    expect((await b.get(k, 30_000, read)).tags).toEqual(['1.0.0', '1.1.0']);
    expect(reads.count).toBe(1);
    const again = feed(100, ['1.0.0', '1.1.0', '1.2.0']);
    const fresh = await Promise.all([a.get(k, 0, again.read), b.get(k, 0, again.read)]);
    expect(again.reads.count).toBe(1);
    expect(fresh.map((l) => l.tags)).toEqual([
      ['1.0.0', '1.1.0', '1.2.0'],
      ['1.0.0', '1.1.0', '1.2.0'],
    ]);
  });

  test('a failed read reaches its own poll only: the waiting worker reads the feed for itself', async () => {
    const [a, b] = [new SharedListings(database.db), new SharedListings(other.db)];
    const k = key();
    const broken = feed(150, [], new Error('registry answered 503'));
    const working = feed(10, ['2.0.0']);
    const first = a.get(k, 30_000, broken.read);
    await until(() => broken.reads.count === 1); // a holds the lease and reads
    const second = b.get(k, 30_000, working.read);
    await expect(first).rejects.toThrow('registry answered 503');
    expect((await second).tags).toEqual(['2.0.0']);
    expect(working.reads.count).toBe(1);
  });

  test('a failed read marks the stored listing stale: no worker serves it as fresh during an outage', async () => {
    const [a, b] = [new SharedListings(database.db), new SharedListings(other.db)];
    const k = key();
    expect((await a.get(k, 30_000, feed(10, ['1.0.0']).read)).tags).toEqual(['1.0.0']);
    const down = feed(10, [], new Error('registry could not be reached'));
    await expect(a.get(k, 0, down.read)).rejects.toThrow('could not be reached');
    // The listing is seconds old, well within 30 s, but a read failed since: the other worker reads itself.
    await expect(b.get(k, 30_000, down.read)).rejects.toThrow('could not be reached');
    expect(down.reads.count).toBe(2);
    const back = feed(10, ['1.0.0', '1.1.0']);
    expect((await b.get(k, 30_000, back.read)).tags).toEqual(['1.0.0', '1.1.0']);
    expect((await a.get(k, 30_000, back.read)).tags).toEqual(['1.0.0', '1.1.0']);
    expect(back.reads.count).toBe(1);
  });

  test("a crashed worker's lease runs out, and another reads the package", async () => {
    const hung = new SharedListings(database.db, { leaseMs: 300 });
    const k = key();
    let hangs = 0;
    void hung
      .get(k, 30_000, () => {
        hangs++;
        return new Promise(() => undefined);
      })
      .catch(() => undefined);
    await until(() => hangs === 1); // the hung worker holds the lease
    const started = Date.now();
    const { reads, read } = feed(10, ['3.0.0']);
    expect((await new SharedListings(other.db).get(k, 30_000, read)).tags).toEqual(['3.0.0']);
    expect(reads.count).toBe(1);
    expect(Date.now() - started).toBeLessThan(4_000); // the lease (300 ms), not the 5 s wait
  });

  test("tag digests are shared as listings are: one read between two workers, and a crashed reader's lease runs out", async () => {
    const [a, b] = [new SharedDigests(database.db, { leaseMs: 300 }), new SharedDigests(other.db)];
    const k = SharedDigests.key(key(), '1.0.0');
    let heads = 0;
    const head = async () => {
      heads++;
      await sleep(150);
      return 'sha256:aaa';
    };
    expect(await Promise.all([a.get(k, 30_000, head), b.get(k, 30_000, head)])).toEqual([
      'sha256:aaa',
      'sha256:aaa',
    ]);
    expect(heads).toBe(1);
    // A digest read for an earlier slot is not taken by a poll that wants one since its own.
    await sleep(50);
    const moved = async () => 'sha256:bbb';
    expect(await b.get(k, 10, moved)).toBe('sha256:bbb');
    // A worker killed mid-read (its read never ends) blocks the others only until its lease runs out.
    const k2 = SharedDigests.key(key(), '2.0.0');
    let hung = 0;
    void a
      .get(k2, 0, () => {
        hung++;
        return new Promise<string>(() => undefined);
      })
      .catch(() => undefined);
    await until(() => hung === 1);
    // This worker would wait ten minutes for another's read: it reads once the lease (300 ms) runs out.
    const patient = new SharedDigests(other.db, { waitMs: 600_000 });
    expect(await patient.get(k2, 30_000, async () => 'sha256:ccc')).toBe('sha256:ccc');
  });

  test('a listing too large to share is read by each worker, and a database failure falls back to the feed', async () => {
    const [a, b] = [
      new SharedListings(database.db, { maxBytes: 20 }),
      new SharedListings(other.db, { maxBytes: 20 }),
    ];
    const k = key();
    const { reads, read } = feed(150, ['1.0.0', '1.1.0', '1.2.0', '1.3.0']);
    const both = await Promise.all([a.get(k, 30_000, read), b.get(k, 30_000, read)]);
    expect(both.map((l) => l.tags.length)).toEqual([4, 4]);
    expect(reads.count).toBe(2);

    // A database that does not answer (nothing listens on port 9).
    const down = new Kysely<Schema>({
      dialect: new PostgresDialect({
        pool: new Pool({ connectionString: 'postgres://postgres@127.0.0.1:9/none' }),
      }),
    });
    const errors: unknown[] = [];
    const alone = feed(10, ['4.0.0']);
    const got = await new SharedListings(down, { onError: (e) => errors.push(e) }).get(
      key(),
      30_000,
      alone.read,
    );
    await down.destroy();
    expect(got.tags).toEqual(['4.0.0']);
    expect(errors).toHaveLength(1);
  });
});
