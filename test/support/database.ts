import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { Database, openDatabase } from '../../src/db/open';
import { startPostgres, TestPostgres } from './postgres';

/** The database every test ledger is copied from: migrated once, at the start of the run. */
const TEMPLATE = 'ledger_template';

function onDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function asAdmin(serverUrl: string, statement: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/**
 * The run's PostgreSQL server (global setup), with the migrated template the test ledgers are copied from:
 * an in-memory PGlite per test worker cost 2–3 s and about 750 MB each, a copy of the template costs a
 * fraction of a second and a few MB.
 */
export async function startLedgerServer(): Promise<TestPostgres> {
  const server = await startPostgres();
  try {
    await asAdmin(server.url, `CREATE DATABASE ${TEMPLATE}`);
    const template = await openDatabase({ url: onDatabase(server.url, TEMPLATE), poolSize: 1 });
    // No session may stay on a template while it is copied.
    await template.close();
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/**
 * An empty, migrated ledger database of its own on the run's PostgreSQL server (FEED_TRIGGERS_TEST_DATABASE_URL,
 * set by the global setup); closing it drops it.
 */
export async function openTestDatabase(): Promise<Database & { readonly url: string }> {
  const serverUrl = process.env.FEED_TRIGGERS_TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('FEED_TRIGGERS_TEST_DATABASE_URL is not set: run through the global setup');
  const name = `ledger_${randomUUID().replace(/-/g, '')}`;
  await asAdmin(serverUrl, `CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
  // One connection, as the embedded database has: what a call wrote is there for the next query (the audit
  // log's record of a call is written as it answers, and a pool lets a later read overtake it).
  const url = onDatabase(serverUrl, name);
  const database = await openDatabase({ url, poolSize: 1 });
  return {
    ...database,
    url,
    async close() {
      await database.close();
      await asAdmin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/**
 * Makes the run's embedded-ledger template in `dir` (global setup, after the build): an empty, migrated PGlite
 * folder, closed cleanly. In a process of its own, so the setup's process does not keep PGlite's ~600 MB.
 */
export async function makeEmbeddedLedgerTemplate(dir: string): Promise<void> {
  const open = path.resolve(__dirname, '../../dist/src/db/open.js');
  const script = `require(${JSON.stringify(open)}).openDatabase({ dataDir: process.argv[1] }).then((d) => d.close())`;
  await promisify(execFile)(process.execPath, ['-e', script, dir]);
  process.env.FEED_TRIGGERS_TEST_EMBEDDED_LEDGER = dir;
}

/**
 * An embedded ledger for a service or CLI that a test runs on the data folder `dataDir`: a copy of the run's
 * empty, migrated one at `<dataDir>/ledger`, the folder the service opens. The service opens it as it opens a
 * ledger it made on an earlier start. Creating one runs PostgreSQL's initdb in WebAssembly and every migration,
 * about 5 s of CPU each time; a copy is 40 MB of files. The tests of a first start on a fresh folder (its
 * files' modes) do not use it. Answers the ledger's folder.
 */
export function seedEmbeddedLedger(dataDir: string): string {
  const template = process.env.FEED_TRIGGERS_TEST_EMBEDDED_LEDGER;
  if (!template)
    throw new Error('FEED_TRIGGERS_TEST_EMBEDDED_LEDGER is not set: run through the global setup');
  const ledger = path.join(dataDir, 'ledger');
  if (existsSync(ledger)) throw new Error(`${ledger} exists: seed a data folder once, before its first use`);
  cpSync(template, ledger, { recursive: true });
  return ledger;
}
