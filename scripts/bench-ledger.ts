import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'kysely';
import { createApp } from '../src/api/app';
import { listen } from '../src/api/listen';
import { Ledger } from '../src/db/ledger';
import { Database, openDatabase } from '../src/db/open';
import { openStores, Stores } from '../src/db/stores';
import { CreateReleaseRequest, ProjectSpecSchema } from '../src/domain/project';
import { startPostgres } from '../test/support/postgres';

/**
 * `npm run bench:ledger`: release creation with 50 racing requests, and `GET releases` latency at
 * 100,000 releases of 10 packages, on the embedded PGlite and on a PostgreSQL server (started here).
 */
const { values } = parseArgs({
  options: {
    releases: { type: 'string', default: '100000' },
    racers: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '20' },
    requests: { type: 'string', default: '200' },
    only: { type: 'string' },
  },
});
const RELEASES = Number(values.releases);
const RACERS = Number(values.racers);
const ROUNDS = Number(values.rounds);
const REQUESTS = Number(values.requests);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

const PACKAGES = Array.from({ length: 10 }, (_, i) => ({
  name: `p${i}`,
  feed: 'docker.io',
  package: `bench/p${i}`,
}));
const DIGEST = `sha256:${'a'.repeat(64)}`;

function request(tag: string, key: string, requireLater: boolean): CreateReleaseRequest {
  return {
    channel: 'default',
    packages: PACKAGES.map((p) => ({ ...p, tag, digest: DIGEST })),
    watched: ['p0'],
    requireLater,
    reason: 'bench',
    source: { kind: 'trigger', trigger: 'trigger/bench/t' },
    key,
  };
}

async function creation(ledger: Ledger, project: string): Promise<void> {
  // The realistic race: 50 triggers see the same push and ask at once; one release comes of it.
  let started = Date.now();
  let created = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const results = await Promise.all(
      Array.from({ length: RACERS }, (_, i) =>
        ledger.createRelease(project, request(`1.0.${round}`, `race-${round}-${i}`, true)),
      ),
    );
    created += results.filter((r) => r.outcome === 'created').length;
  }
  let seconds = (Date.now() - started) / 1000;
  console.log(
    `  ${RACERS} racing requests for one version set, ${ROUNDS} rounds: ${created} releases ` +
      `(${created === ROUNDS ? 'one a round' : 'WRONG'}), ${((RACERS * ROUNDS) / seconds).toFixed(0)} requests/s`,
  );
  // 50 different version sets at once (people pinning versions): every one is a release.
  started = Date.now();
  created = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const results = await Promise.all(
      Array.from({ length: RACERS }, (_, i) =>
        ledger.createRelease(project, request(`2.${round}.${i}`, `distinct-${round}-${i}`, false)),
      ),
    );
    created += results.filter((r) => r.outcome === 'created').length;
  }
  seconds = (Date.now() - started) / 1000;
  console.log(
    `  ${RACERS} racing requests for distinct version sets, ${ROUNDS} rounds: ${created} releases, ` +
      `${(created / seconds).toFixed(0)} releases/s`,
  );
}

async function fill(database: Database, ledger: Ledger, project: string): Promise<void> {
  const { id } = (await ledger.getProject(project))!;
  const started = Date.now();
  const have = await ledger.releaseCount(id);
  const batch = 10_000;
  for (let from = have + 1; from <= RELEASES; from += batch) {
    const to = Math.min(RELEASES, from + batch - 1);
    await sql`
      INSERT INTO releases (project_id, number, channel, created_at, packages, version_set, reason, source, key)
      SELECT ${id}, '9.0.' || g, 'default', now() - make_interval(secs => ${RELEASES} - g),
        (SELECT jsonb_agg(jsonb_build_object('name', 'p' || i, 'feed', 'docker.io', 'package', 'bench/p' || i,
          'tag', '3.0.' || g, 'digest', ${DIGEST}::text)) FROM generate_series(0, 9) i),
        md5('fill' || g), 'bulk', '{"kind":"manual"}', 'fill-' || g
      FROM generate_series(${from}::int, ${to}::int) g`.execute(database.db);
  }
  console.log(`  filled to ${RELEASES} releases in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function reads(stores: Stores, project: string): Promise<void> {
  const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  const { token } = await stores.access.createToken(`bench-${Date.now()}`, 'viewer', 'bench:ledger');
  const app = createApp({ client, taskQueue: 'bench', ...stores });
  const server = await listen(app, 0, '127.0.0.1');
  const fetch = (url: string) => globalThis.fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/projects/${project}/releases`;
  try {
    const first = (await (await fetch(`${base}?limit=100`)).json()) as { nextCursor: string };
    const deep = (await (
      await fetch(`${base}?limit=100&cursor=${Buffer.from(String(RELEASES / 2)).toString('base64url')}`)
    ).json()) as {
      releases: unknown[];
    };
    if (!first.nextCursor || deep.releases.length !== 100) throw new Error('paging did not work');
    const since = new Date(Date.now() - 3600 * 1000).toISOString();
    const cases: [string, string][] = [
      ['newest 20', `${base}?limit=20`],
      [
        'a page of 100 halfway down (cursor)',
        `${base}?limit=100&cursor=${Buffer.from(String(Math.floor(RELEASES / 2))).toString('base64url')}`,
      ],
      ['package p3 at version 3.0.777', `${base}?package=p3&version=3.0.777`],
      ['created in the last hour, 100', `${base}?limit=100&createdSince=${encodeURIComponent(since)}`],
      ['a channel, 20', `${base}?channel=default&limit=20`],
    ];
    for (const [what, url] of cases) {
      const times: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const t = performance.now();
        const res = await fetch(url);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      console.log(`  GET ${what}: p50 ${fmt(percentile(times, 50))}, p95 ${fmt(percentile(times, 95))}`);
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
  }
}

async function run(kind: 'pglite' | 'postgres'): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-bench-ledger-'));
  const pg = kind === 'postgres' ? await startPostgres() : null;
  const database = await openDatabase(pg ? { url: pg.url } : { dataDir: dir });
  try {
    const stores = openStores(database);
    const { ledger } = stores;
    const project = 'bench';
    await ledger.saveProject(
      ProjectSpecSchema.parse({
        name: project,
        packages: PACKAGES,
        destinations: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook' }],
      }),
    );
    console.log(
      kind === 'postgres' ? 'PostgreSQL (a local server, fsync off)' : 'PGlite (embedded, on disk)',
    );
    await creation(ledger, project);
    await fill(database, ledger, project);
    // What the ledger does every 1,000 releases on PGlite (autovacuum does it on a PostgreSQL server).
    await ledger.analyze();
    await reads(stores, project);
  } finally {
    await database.close();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(
    `bench:ledger on ${os.cpus().length} cores, Node ${process.version}: ${RACERS} racers, ${ROUNDS} rounds, ` +
      `${RELEASES} releases of 10 packages, ${REQUESTS} requests a case`,
  );
  for (const kind of ['pglite', 'postgres'] as const)
    if (!values.only || values.only === kind) await run(kind);
}

main().then(
  // The API's Temporal probe may still be retrying its unreachable address: nothing else is left to do.
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
