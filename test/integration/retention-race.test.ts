import { sql } from 'kysely';
import { Database, openDatabase } from '../../src/db/open';
import { DeploymentRefusal } from '../../src/db/deployments';
import { Ledger } from '../../src/db/ledger';
import { openStores } from '../../src/db/stores';
import { ProjectSpecSchema } from '../../src/domain/project';
import { openTestDatabase } from '../support/database';
import { eventually } from '../support/temporal';

/**
 * Retention against deploy requests on real PostgreSQL, each interleaving forced with explicit transactions
 * and retention's hooks (never with sleeps): whatever the order, a deployment is either in with its release
 * kept, or refused with a 404 because the release went first. Never a deployment deleted after it was in.
 */
let owner: Awaited<ReturnType<typeof openTestDatabase>>;
let database: Database;
let ledger: Ledger;

beforeAll(async () => {
  owner = await openTestDatabase();
  // The test database has one connection; the interleavings need retention and a deploy request at once.
  database = await openDatabase({ url: owner.url, poolSize: 4 });
  ledger = openStores(database).ledger;
});
afterAll(async () => {
  await database?.close();
  await owner?.close();
});

const KEEP_LAST_ONE = { keepLast: 1 };

/** A project keeping one release, with three: the two older are retention's candidates. */
async function threeReleases(name: string) {
  await ledger.saveProject(
    ProjectSpecSchema.parse({
      name,
      packages: [{ name: 'web', feed: 'registry.example', package: `${name}/web` }],
      environments: [{ name: 'prod' }],
      retention: KEEP_LAST_ONE,
    }),
  );
  const ids: { id: number; number: string }[] = [];
  for (const tag of ['1.0.0', '1.1.0', '1.2.0']) {
    const { release } = await ledger.createRelease(name, {
      channel: 'default',
      packages: [{ name: 'web', feed: 'registry.example', package: `${name}/web`, tag, digest: null }],
      watched: ['web'],
      requireLater: true,
      reason: 'test',
      source: { kind: 'manual' },
      key: `${name}-${tag}`,
    });
    ids.push({ id: release!.id, number: release!.number });
  }
  const project = (await ledger.getProject(name))!;
  return { projectId: project.id, releases: ids };
}

const deploymentsOf = async (releaseId: number) =>
  (await ledger.deployments.ofRelease(releaseId)).deployments.map((d) => d.status);

test('a deploy committed after retention read its candidates, before it locked them, keeps its release and its deployment', async () => {
  const { projectId, releases } = await threeReleases('race-read-then-deploy');
  const [oldest, older] = releases;
  const removed = await ledger.retention.removeBatch(projectId, 'default', KEEP_LAST_ONE, 200, new Date(), {
    // The oldest was a candidate when retention read them; its deployment is in (committed) before the lock.
    beforeLock: async () => {
      await ledger.deployments.queue(oldest.id, 'prod', 'alice', false);
    },
  });
  expect(removed).toEqual([older.number]);
  expect(await ledger.releaseById(oldest.id)).not.toBeNull();
  expect(await deploymentsOf(oldest.id)).toEqual(['queued']);
});

test('a deploy asked while retention holds its lock waits, then is refused with a 404: no deployment is left', async () => {
  const { projectId, releases } = await threeReleases('race-lock-then-deploy');
  const [oldest, older] = releases;
  let request: Promise<unknown> | undefined;
  const removed = await ledger.retention.removeBatch(projectId, 'default', KEEP_LAST_ONE, 200, new Date(), {
    beforeDelete: async () => {
      request = ledger.deployments.queue(oldest.id, 'prod', 'alice', false).catch((err: unknown) => err);
      // The request waits for retention's row lock: PostgreSQL shows it waiting on a lock.
      await eventually(async () => {
        const { rows } = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(database.db);
        return rows[0].n > 0 ? true : undefined;
      }, 'the deploy request waiting for the release lock');
    },
  });
  expect(removed).toEqual([oldest.number, older.number]);
  const refusal = await request;
  expect(refusal).toBeInstanceOf(DeploymentRefusal);
  expect((refusal as DeploymentRefusal).status).toBe(404);
  expect(await ledger.releaseById(oldest.id)).toBeNull();
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM deployments WHERE release_id = ${oldest.id}`.execute(database.db);
  expect(rows[0].n).toBe(0);
});

test('a release a deploy request holds (share lock, deployment not yet in) is passed by', async () => {
  const { projectId, releases } = await threeReleases('race-deploy-holds');
  const [oldest, older] = releases;
  await database.db.transaction().execute(async (trx) => {
    await trx.selectFrom('releases').select('id').where('id', '=', oldest.id).forShare().execute();
    const removed = await ledger.retention.removeBatch(projectId, 'default', KEEP_LAST_ONE, 200);
    expect(removed).toEqual([older.number]);
  });
  expect(await ledger.releaseById(oldest.id)).not.toBeNull();
});
