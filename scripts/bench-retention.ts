import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'kysely';
import { createRetentionActivities } from '../activities/retention';
import { createApp } from '../src/api/app';
import { listen } from '../src/api/listen';
import { Database, openDatabase } from '../src/db/open';
import { openStores } from '../src/db/stores';
import { ProjectSpecSchema } from '../src/domain/project';
import { startPostgres } from '../test/support/postgres';

/**
 * `npm run bench:retention`: retention applied to a project of 100,000 releases (keep the last 1,000; one
 * old release deployed in prod) while the API is read: p50/p95 of `GET releases` before and during, how long
 * the removal takes, and the ledger's size before and after (after a plain VACUUM, what autovacuum leaves,
 * and after VACUUM FULL, what the data takes now).
 */
const { values } = parseArgs({
  options: {
    releases: { type: 'string', default: '100000' },
    keep: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '200' },
    requests: { type: 'string', default: '200' },
    only: { type: 'string' },
  },
});
const RELEASES = Number(values.releases);
const KEEP = Number(values.keep);
const BATCH = Number(values.batch);
const REQUESTS = Number(values.requests);
const DIGEST = `sha256:${'a'.repeat(64)}`;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const summary = (times: number[]) => {
  const sorted = [...times].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50).toFixed(1)} ms, p95 ${percentile(sorted, 95).toFixed(1)} ms (${sorted.length} reads)`;
};
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function ledgerBytes(database: Database): Promise<number> {
  const { rows } = await sql<{ bytes: string }>`
    SELECT sum(pg_total_relation_size(c.oid))::bigint AS bytes FROM pg_class c
    WHERE c.relname IN ('releases', 'deployments', 'deliveries', 'approvals', 'channel_heads')`.execute(
    database.db,
  );
  return Number(rows[0].bytes);
}

async function run(kind: 'pglite' | 'postgres'): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-bench-retention-'));
  const pg = kind === 'postgres' ? await startPostgres() : null;
  const database = await openDatabase(pg ? { url: pg.url } : { dataDir: dir });
  const stores = openStores(database);
  const { ledger } = stores;
  const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  const app = createApp({ client, taskQueue: 'bench', ...stores });
  const server = await listen(app, 0, '127.0.0.1');
  try {
    console.log(
      kind === 'postgres' ? 'PostgreSQL (a local server, fsync off)' : 'PGlite (embedded, on disk)',
    );
    await ledger.saveProject(
      ProjectSpecSchema.parse({
        name: 'bench',
        packages: [{ name: 'web', feed: 'docker.io', package: 'bench/web' }],
        environments: [
          { name: 'prod', targets: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/' }] },
        ],
        lifecycles: [{ name: 'standard', phases: [{ name: 'prod', environments: ['prod'] }] }],
        lifecycle: 'standard',
        retention: { keepLast: KEEP },
      }),
    );
    const { id } = (await ledger.getProject('bench'))!;
    const started = Date.now();
    for (let from = 1; from <= RELEASES; from += 10_000) {
      const to = Math.min(RELEASES, from + 9_999);
      await sql`
        INSERT INTO releases (project_id, number, channel, created_at, packages, version_set, reason, source, key)
        SELECT ${id}, '9.0.' || g, 'default', now() - make_interval(secs => ${RELEASES} - g),
          jsonb_build_array(jsonb_build_object('name', 'web', 'feed', 'docker.io', 'package', 'bench/web',
            'tag', '3.0.' || g, 'digest', ${DIGEST}::text)),
          md5('fill' || g), 'bulk', '{"kind":"manual"}', 'fill-' || g
        FROM generate_series(${from}::int, ${to}::int) g`.execute(database.db);
    }
    // The newest is the channel's head; the tenth is what prod runs (retention must leave it).
    await sql`
      INSERT INTO channel_heads (project_id, channel, last_release_id, highest_number)
      SELECT ${id}, 'default', max(id), '9.0.' || ${RELEASES} FROM releases WHERE project_id = ${id}`.execute(
      database.db,
    );
    await sql`
      INSERT INTO deployments (project_id, release_id, environment, status, forced, requested_by, queued_at, finished_at)
      SELECT ${id}, id, 'prod', 'succeeded', false, 'bench', now(), now() FROM releases
      WHERE project_id = ${id} AND number = '9.0.10'`.execute(database.db);
    await ledger.analyze();
    console.log(`  filled ${RELEASES} releases in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await sql`VACUUM`.execute(database.db);
    const sizeBefore = await ledgerBytes(database);

    const { token } = await stores.access.createToken(`bench-${Date.now()}`, 'viewer', 'bench:retention');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/projects/bench/releases?limit=20`;
    const read = async () => {
      const t = performance.now();
      const res = await fetch(base, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`GET releases: ${res.status}`);
      return performance.now() - t;
    };
    const before: number[] = [];
    for (let i = 0; i < REQUESTS; i++) before.push(await read());
    console.log(`  GET newest 20 before: ${summary(before)}`);

    const retention = createRetentionActivities({ ledger, heartbeat: () => undefined });
    let done = false;
    const during: number[] = [];
    const reader = (async () => {
      while (!done) during.push(await read());
    })();
    const t = Date.now();
    let removed = 0;
    for (;;) {
      const round = await retention.applyRetention({ batch: BATCH, budgetMs: 60_000 });
      removed += round.removed;
      if (!round.more) break;
    }
    const seconds = (Date.now() - t) / 1000;
    done = true;
    await reader;
    console.log(
      `  retention removed ${removed} releases in ${seconds.toFixed(1)} s (${(removed / seconds).toFixed(0)}/s, batches of ${BATCH})`,
    );
    console.log(`  GET newest 20 during: ${summary(during)}`);
    const left = await sql<{ n: string; deployed: string }>`
      SELECT count(*) AS n, count(*) FILTER (WHERE number = '9.0.10') AS deployed FROM releases`.execute(
      database.db,
    );
    console.log(
      `  left: ${left.rows[0].n} releases (the last ${KEEP} and the one in prod: ${Number(left.rows[0].deployed) === 1 ? 'kept' : 'WRONG'})`,
    );
    await sql`VACUUM`.execute(database.db);
    const afterVacuum = await ledgerBytes(database);
    await sql`VACUUM FULL`.execute(database.db);
    const afterFull = await ledgerBytes(database);
    console.log(
      `  ledger (releases, deployments, deliveries, approvals): ${mb(sizeBefore)} before, ${mb(afterVacuum)} after VACUUM ` +
        `(space reusable), ${mb(afterFull)} after VACUUM FULL`,
    );
    const after: number[] = [];
    for (let i = 0; i < REQUESTS; i++) after.push(await read());
    console.log(`  GET newest 20 after: ${summary(after)}`);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await database.close();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(
    `bench:retention on ${os.cpus().length} cores, Node ${process.version}: ${RELEASES} releases, keep ${KEEP}, ` +
      `batches of ${BATCH}, ${REQUESTS} reads before`,
  );
  for (const kind of ['pglite', 'postgres'] as const)
    if (!values.only || values.only === kind) await run(kind);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
