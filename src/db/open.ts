import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import { PGlite } from '@electric-sql/pglite';
import { Client as PgClient, Pool } from 'pg';
import { migrate } from './migrations';
import { Schema } from './schema';

export interface Database {
  readonly db: Kysely<Schema>;
  /** How the ledger on this database refreshes planner statistics (PostgreSQL's autovacuum does it there). */
  readonly ledgerOptions: { readonly analyzeEvery?: number };
  /** `postgres` for a server reached through DATABASE_URL, `pglite` for the embedded one. */
  readonly kind: 'postgres' | 'pglite';
  /** Answers whether the database can run a query now (for /readyz). */
  ping(): Promise<boolean>;
  /** Calls `onPayload` with each NOTIFY on `channel` (one connection per call); answers how to stop. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** `postgres://…` for a PostgreSQL server; absent for the embedded database. */
  readonly url?: string;
  /** Where the embedded database keeps its files; absent: in memory (tests). */
  readonly dataDir?: string;
  /** Connections to a PostgreSQL server (default 10). */
  readonly poolSize?: number;
}

export class DatabaseError extends Error {}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The embedded database belongs to one process: PGlite has no locking of its own, and two processes
 * writing one folder would corrupt it. A lock file with the owner's pid says who holds it.
 */
function lockFolder(dir: string): () => void {
  // Tokens' hashes and the audit log live here: for this user only, even in a folder made before.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const lock = path.join(dir, 'feed-triggers.pid');
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lock, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner))
        throw new DatabaseError(
          `the embedded database in ${dir} is in use by process ${owner}; run one process per data ` +
            'folder, or set DATABASE_URL to a PostgreSQL server to run several',
        );
      rmSync(lock, { force: true }); // left behind by a process that is gone
    }
  }
  throw new DatabaseError(`cannot lock the embedded database in ${dir}`);
}

/**
 * Makes every folder under dir 0700 and every file 0600. PGlite's file system chmods each file it creates to
 * 0666, past the process's umask; the folders above keep others out meanwhile, and this sets the files right
 * when the database opens and closes.
 */
function closeToOthers(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      chmodSync(p, 0o700);
      closeToOthers(p);
    } else if (entry.isFile() && (lstatSync(p).mode & 0o077) !== 0) chmodSync(p, 0o600);
  }
}

/** Opens the ledger's database and brings its schema up to date. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    const pool = new Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
    // An idle client that loses its server emits an error; the pool replaces it on next use.
    pool.on('error', () => undefined);
    const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
    try {
      await migrate(db as Kysely<unknown>);
    } catch (err) {
      await db.destroy();
      throw new DatabaseError(`database ${redact(options.url)}: ${(err as Error).message}`);
    }
    return {
      db,
      kind: 'postgres',
      ledgerOptions: {},
      ping: async () => {
        try {
          await pool.query('SELECT 1');
          return true;
        } catch {
          return false;
        }
      },
      listen: (channel, onPayload) => listenOnServer(options.url!, channel, onPayload),
      close: () => db.destroy(),
    };
  }
  const unlock = options.dataDir ? lockFolder(options.dataDir) : () => undefined;
  const pglite = new PGlite(options.dataDir);
  const db = new Kysely<Schema>({ dialect: new PGliteDialect({ pglite }) });
  try {
    await migrate(db as Kysely<unknown>);
    // No autovacuum in PGlite: statistics are refreshed at open and by the ledger as releases grow.
    await sql`ANALYZE`.execute(db);
    if (options.dataDir) closeToOthers(options.dataDir);
  } catch (err) {
    await db.destroy();
    unlock();
    throw err;
  }
  return {
    db,
    kind: 'pglite',
    ledgerOptions: { analyzeEvery: 1000 },
    ping: async () => !pglite.closed,
    listen: async (channel, onPayload) => {
      const stop = await pglite.listen(channel, onPayload);
      return async () => {
        if (!pglite.closed) await stop();
      };
    },
    close: async () => {
      await db.destroy();
      if (options.dataDir) closeToOthers(options.dataDir);
      unlock();
    },
  };
}

/**
 * LISTEN on a connection of its own, outside the pool (a pooled connection would be handed to queries):
 * reconnects after a lost connection, waiting longer each time up to 10 s, until stopped.
 */
async function listenOnServer(
  url: string,
  channel: string,
  onPayload: (payload: string) => void,
): Promise<() => Promise<void>> {
  let stopped = false;
  let client: PgClient | null = null;
  let timer: NodeJS.Timeout | undefined;
  let wait = 250;
  const connect = async (): Promise<void> => {
    const c = new PgClient({ connectionString: url });
    c.on('notification', (n) => {
      if (n.channel === channel && n.payload !== undefined) onPayload(n.payload);
    });
    c.on('error', () => undefined);
    c.on('end', () => {
      if (stopped) return;
      client = null;
      timer = setTimeout(() => void connect().catch(() => undefined), wait);
      wait = Math.min(wait * 2, 10_000);
    });
    try {
      await c.connect();
      await c.query(`LISTEN "${channel.replace(/"/g, '""')}"`);
      wait = 250;
      client = c;
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
  };
  await connect();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await client?.end().catch(() => undefined);
  };
}

/**
 * Files and folders this process makes are for its user only (0600, 0700), the data folder included (made
 * before with 755/644, it is closed to others). Called first by every entry point.
 */
export function keepFilesPrivate(dataDir?: string): void {
  process.umask(0o077);
  if (dataDir && existsSync(dataDir)) chmodSync(dataDir, 0o700);
}

/** A database URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable DATABASE_URL)';
  }
}
