import { Kysely, sql } from 'kysely';
import type { PackageListing } from '../feeds/package-source';
import type { Schema, StoredDigest, StoredListing, StoredRead } from './schema';

export interface SharedListingsOptions {
  /** How long one worker may hold a read before another may take it over (a kill -9 holds it this long). */
  readonly leaseMs: number;
  /** How long a worker waits for another's read before reading the feed itself. */
  readonly waitMs: number;
  /** How often a waiting worker looks for the listing. */
  readonly stepMs: number;
  /** A listing larger than this (as JSON) is not shared: each worker reads it itself. */
  readonly maxBytes: number;
  /** Called when the database fails: the poll goes on with a read of its own. */
  readonly onError?: (err: unknown) => void;
}

const DEFAULTS: SharedListingsOptions = { leaseMs: 20_000, waitMs: 5_000, stepMs: 50, maxBytes: 1024 * 1024 };

/** How a shared value is written to the table's JSON column and read back. */
interface StoredForm<T> {
  toStored(value: T): StoredRead;
  fromStored(stored: StoredRead): T;
}

/**
 * Feed reads shared by the workers of one ledger database. Triggers on a package poll in the same second
 * (their phase comes from the package), and with several workers they sit on several of them: without
 * this, each worker would read the package once per interval. One worker takes a short lease on the
 * read's row and reads the feed; the others wait for its answer. A failed read frees the lease at once
 * and marks the stored answer stale; a stuck one (a worker killed with kill -9) expires after `leaseMs`.
 * The database is an optimisation only: when it fails, or the reader is slow, a worker reads the feed
 * itself, as it would alone. Tag listings and tag digests share the one table, keyed apart (`feed|package`
 * for a listing, `feed|package@tag` for a digest: `@` is in no feed id, repository or tag).
 */
class SharedReads<T> {
  private readonly options: SharedListingsOptions;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly form: StoredForm<T>,
    options: Partial<SharedListingsOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** The answer for `key` read at most `maxAgeMs` ago, by any worker; else `load`'s, shared with the others. */
  async get(key: string, maxAgeMs: number, load: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let since: Date;
    try {
      const found = await this.fresh(key, maxAgeMs);
      if (found.listing) return this.form.fromStored(found.listing);
      since = found.since;
      if (await this.lease(key, since)) return await this.read(key, load);
    } catch (err) {
      if (err instanceof ReadFailed) throw err.cause;
      this.options.onError?.(err);
      return load();
    }
    const deadline = Date.now() + this.options.waitMs;
    while (Date.now() < deadline) {
      await pause(this.options.stepMs, signal);
      try {
        const row = await this.db
          .selectFrom('feed_listings')
          .select([
            'listing',
            'fetched_at',
            sql<boolean>`lease_until IS NULL OR lease_until < now()`.as('free'),
          ])
          .where('key', '=', key)
          .executeTakeFirst();
        if (row?.fetched_at && row.fetched_at >= since) {
          // Read since we asked: shared unless it was too large to store.
          if (row.listing) return this.form.fromStored(row.listing);
          break;
        }
        // The reader gave up (its read failed) or its lease ran out: read for everyone.
        if ((!row || row.free) && (await this.lease(key, since))) return await this.read(key, load);
      } catch (err) {
        if (err instanceof ReadFailed) throw err.cause;
        this.options.onError?.(err);
        break;
      }
    }
    return load();
  }

  /** The stored listing if read since `now - maxAgeMs`, and that moment by the database's clock. */
  private async fresh(key: string, maxAgeMs: number) {
    const age = sql`(${Math.max(0, Math.floor(maxAgeMs))} * interval '1 millisecond')`;
    const { rows } = await sql<{ since_us: string; listing: StoredRead | null }>`
      SELECT (extract(epoch FROM now() - ${age}) * 1000000)::bigint::text AS since_us,
        (SELECT listing FROM feed_listings WHERE key = ${key} AND fetched_at >= now() - ${age}) AS listing
    `.execute(this.db);
    // The database keeps microseconds, a Date milliseconds: rounded down, `since` would let a listing read
    // earlier in the same millisecond pass as read since (and be served as fresh to a poll asking for 0 ms).
    // Rounded up, such a listing is older than `since`; one read later in that millisecond only costs a read.
    return { since: new Date(Math.ceil(Number(rows[0].since_us) / 1000)), listing: rows[0].listing };
  }

  /** Takes the package's read unless another worker holds it or a listing read since `since` is there. */
  private async lease(key: string, since: Date): Promise<boolean> {
    const until = sql<Date>`now() + (${this.options.leaseMs} * interval '1 millisecond')`;
    const taken = await this.db
      .insertInto('feed_listings')
      .values({ key, lease_until: until, fetched_at: null, listing: null })
      .onConflict((oc) =>
        oc
          .column('key')
          .doUpdateSet({ lease_until: until })
          .where((eb) =>
            eb.and([
              eb.or([
                eb('feed_listings.lease_until', 'is', null),
                eb('feed_listings.lease_until', '<', sql<Date>`now()`),
              ]),
              eb.or([eb('feed_listings.fetched_at', 'is', null), eb('feed_listings.fetched_at', '<', since)]),
            ]),
          ),
      )
      .returning('key')
      .executeTakeFirst();
    return taken !== undefined;
  }

  /** Reads the feed under the lease and stores what it read; a failed read frees the lease for another. */
  private async read(key: string, load: () => Promise<T>): Promise<T> {
    let listing: T;
    try {
      listing = await load();
    } catch (err) {
      // The listing stored before is stale now (the registry may be down): no worker takes it as fresh.
      await this.db
        .updateTable('feed_listings')
        .set({ lease_until: null, fetched_at: null })
        .where('key', '=', key)
        .execute()
        .catch((e: unknown) => this.options.onError?.(e));
      throw new ReadFailed(err);
    }
    const stored = JSON.stringify(this.form.toStored(listing));
    await this.db
      .updateTable('feed_listings')
      .set({
        // Too large to share: the waiting workers see a fresh read without a listing and read themselves.
        listing: stored.length <= this.options.maxBytes ? stored : null,
        fetched_at: sql<Date>`now()`,
        lease_until: null,
      })
      .where('key', '=', key)
      .execute()
      .catch((e: unknown) => this.options.onError?.(e));
    return listing;
  }
}

/** The feed's own failure, passed through untouched (not mistaken for the database's). */
class ReadFailed extends Error {
  constructor(override readonly cause: unknown) {
    super('the feed read failed');
  }
}

/** Tag listings shared by the workers of one ledger: one read of a package per interval between them. */
export class SharedListings extends SharedReads<PackageListing> {
  constructor(db: Kysely<Schema>, options: Partial<SharedListingsOptions> = {}) {
    super(db, { toStored, fromStored: (stored) => fromStored(stored as StoredListing) }, options);
  }
}

/**
 * Tag digests (a manifest HEAD each) shared by the workers of one ledger, keyed by feed, package and tag.
 * A tag's digest can move, so a poll takes one only as young as the listing it would share (read since
 * shortly before its slot): one HEAD per package per interval between all workers, never one from an
 * earlier slot.
 */
export class SharedDigests extends SharedReads<string | null> {
  constructor(db: Kysely<Schema>, options: Partial<SharedListingsOptions> = {}) {
    super(
      db,
      { toStored: (digest) => ({ digest }), fromStored: (stored) => (stored as StoredDigest).digest },
      options,
    );
  }

  /** The row key of a tag's digest: the listing's key and the tag (`@` is in neither). */
  static key(listingKey: string, tag: string): string {
    return `${listingKey}@${tag}`;
  }
}

function toStored(listing: PackageListing): StoredListing {
  return {
    tags: listing.tags,
    rateLimitRemaining: listing.rateLimitRemaining,
    digests: listing.digests ? Object.fromEntries(listing.digests) : null,
  };
}

function fromStored(stored: StoredListing): PackageListing {
  return {
    tags: stored.tags,
    rateLimitRemaining: stored.rateLimitRemaining,
    digests: stored.digests ? new Map(Object.entries(stored.digests)) : null,
  };
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', stop, { once: true });
  });
}
