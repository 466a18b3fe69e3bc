import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import { PGlite } from '@electric-sql/pglite';
import { Pool } from 'pg';
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
  mkdirSync(dir, { recursive: true });
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
    close: async () => {
      await db.destroy();
      unlock();
    },
  };
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
