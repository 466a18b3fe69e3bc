import { Kysely, sql } from 'kysely';
import type { Schema } from './schema';

/** A package a trigger watches, as it subscribes to the package's watcher. */
export interface WatchedPackage {
  /** `feed/package` (watchedPackageKey). */
  readonly key: string;
  readonly feed: string;
  readonly package: string;
  readonly shard: number;
}

/** A package of one watcher's shard: the shortest interval it is watched at and what it last showed. */
export interface ShardPackage {
  readonly key: string;
  readonly feed: string;
  readonly package: string;
  readonly intervalMs: number;
  readonly checkedAt: Date | null;
  readonly fingerprint: string | null;
}

/** What a watcher read of a package. */
export interface PackageCheck {
  readonly key: string;
  readonly checkedAt: Date;
  readonly fingerprint: string;
  readonly error: { readonly code: string; readonly message: string } | null;
}

/**
 * Subscriptions of triggers to package watchers, and what each watcher last saw of its packages. In the
 * ledger, not in workflow state: a watcher's history holds no trigger list however many subscribe, a
 * terminated watcher restarts with nothing lost, and the API reads when a package was last checked.
 */
export class PackageWatches {
  constructor(private readonly db: Kysely<Schema>) {}

  /** Replaces the trigger's subscriptions; returns the shards it now has packages in. */
  async watch(
    triggerId: string,
    packages: readonly WatchedPackage[],
    intervalMs: number,
    channel: string | null = null,
    paused = false,
  ): Promise<number[]> {
    await this.db.transaction().execute(async (trx) => {
      const keys = packages.map((p) => p.key);
      let gone = trx.deleteFrom('package_watches').where('trigger_id', '=', triggerId);
      if (keys.length > 0) gone = gone.where('package_key', 'not in', keys);
      await gone.execute();
      if (packages.length === 0) return;
      await trx
        .insertInto('package_watches')
        .values(
          packages.map((p) => ({
            trigger_id: triggerId,
            package_key: p.key,
            feed: p.feed,
            package: p.package,
            shard: p.shard,
            interval_ms: intervalMs,
            channel,
            paused,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['trigger_id', 'package_key']).doUpdateSet({
            shard: (eb) => eb.ref('excluded.shard'),
            interval_ms: (eb) => eb.ref('excluded.interval_ms'),
            channel: (eb) => eb.ref('excluded.channel'),
            paused: (eb) => eb.ref('excluded.paused'),
          }),
        )
        .execute();
    });
    return [...new Set(packages.map((p) => p.shard))];
  }

  /** Drops every subscription of triggers that are gone. */
  async forget(triggerIds: readonly string[]): Promise<void> {
    if (triggerIds.length === 0) return;
    await this.db.deleteFrom('package_watches').where('trigger_id', 'in', triggerIds).execute();
  }

  /**
   * Records, for the trigger's subscriptions, what the API changed since it subscribed: the channel it
   * releases into (a change of channel), and whether it is paused (a paused trigger releases no move of its
   * packages, so no release may take them at their watcher's read on its account). Its next subscription
   * writes both again, as the trigger has them.
   */
  async note(
    triggerId: string,
    change: { readonly channel?: string; readonly paused?: boolean },
  ): Promise<void> {
    if (change.channel === undefined && change.paused === undefined) return;
    await this.db
      .updateTable('package_watches')
      .set({
        ...(change.channel !== undefined ? { channel: change.channel } : {}),
        ...(change.paused !== undefined ? { paused: change.paused } : {}),
      })
      .where('trigger_id', '=', triggerId)
      .execute();
  }

  /** The packages of one shard, each at the shortest interval a subscriber watches it at. */
  async shardPackages(shard: number): Promise<ShardPackage[]> {
    const rows = await this.db
      .selectFrom('package_watches as w')
      .leftJoin('package_checks as c', 'c.package_key', 'w.package_key')
      .select([
        'w.package_key as key',
        sql<string>`min(w.feed)`.as('feed'),
        sql<string>`min(w.package)`.as('package'),
        sql<number>`min(w.interval_ms)`.as('interval_ms'),
        sql<Date | null>`max(c.checked_at)`.as('checked_at'),
        sql<string | null>`max(c.fingerprint)`.as('fingerprint'),
      ])
      .where('w.shard', '=', shard)
      .groupBy('w.package_key')
      .orderBy('w.package_key')
      .execute();
    return rows.map((r) => ({
      key: r.key,
      feed: r.feed,
      package: r.package,
      intervalMs: Number(r.interval_ms),
      checkedAt: r.checked_at === null ? null : new Date(r.checked_at),
      fingerprint: r.fingerprint,
    }));
  }

  /** The triggers subscribed to any of these packages. */
  async subscribers(keys: readonly string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    const rows = await this.db
      .selectFrom('package_watches')
      .select('trigger_id')
      .distinct()
      .where('package_key', 'in', keys)
      .orderBy('trigger_id')
      .execute();
    return rows.map((r) => r.trigger_id);
  }

  /** The subscribed triggers of one project (their IDs are `trigger/<project>/<name>`). */
  async subscribedIn(project: string): Promise<string[]> {
    const prefix = `trigger/${project}/`;
    const rows = await this.db
      .selectFrom('package_watches')
      .select('trigger_id')
      .distinct()
      .where(sql<boolean>`left(trigger_id, ${prefix.length}) = ${prefix}`)
      .execute();
    return rows.map((r) => r.trigger_id).sort();
  }

  /** Records what the watcher read; called only once the subscribers of a change were woken. */
  async record(checks: readonly PackageCheck[]): Promise<void> {
    if (checks.length === 0) return;
    await this.db
      .insertInto('package_checks')
      .values(
        checks.map((c) => ({
          package_key: c.key,
          checked_at: c.checkedAt,
          fingerprint: c.fingerprint,
          error_code: c.error?.code ?? null,
          error_message: c.error?.message ?? null,
        })),
      )
      .onConflict((oc) =>
        oc.column('package_key').doUpdateSet({
          checked_at: (eb) => eb.ref('excluded.checked_at'),
          fingerprint: (eb) => eb.ref('excluded.fingerprint'),
          error_code: (eb) => eb.ref('excluded.error_code'),
          error_message: (eb) => eb.ref('excluded.error_message'),
        }),
      )
      .execute();
  }

  /** Records first checks of packages no watcher has read yet; one recorded meanwhile is kept. */
  async seed(checks: readonly PackageCheck[]): Promise<void> {
    if (checks.length === 0) return;
    await this.db
      .insertInto('package_checks')
      .values(
        checks.map((c) => ({
          package_key: c.key,
          checked_at: c.checkedAt,
          fingerprint: c.fingerprint,
          error_code: null,
          error_message: null,
        })),
      )
      .onConflict((oc) => oc.column('package_key').doNothing())
      .execute();
  }

  /** The last check of each of these packages that a watcher read. */
  async checks(keys: readonly string[]): Promise<Map<string, PackageCheck>> {
    if (keys.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('package_checks')
      .selectAll()
      .where('package_key', 'in', keys)
      .execute();
    return new Map(
      rows.map((r) => [
        r.package_key,
        {
          key: r.package_key,
          checkedAt: new Date(r.checked_at),
          fingerprint: r.fingerprint,
          error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
        },
      ]),
    );
  }

  /**
   * When a watcher last read the package without error (epoch ms), if a trigger of `project` that releases
   * into `channel` is subscribed to it (a move of the package then wakes a trigger that releases it there);
   * else null.
   */
  async lastRead(key: string, project: string, channel: string): Promise<number | null> {
    const prefix = `trigger/${project}/`;
    const row = await this.db
      .selectFrom('package_checks as c')
      .select('c.checked_at')
      .where('c.package_key', '=', key)
      .where('c.error_code', 'is', null)
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('package_watches as w')
            .select('w.trigger_id')
            .where('w.package_key', '=', key)
            .where('w.channel', '=', channel)
            .where('w.paused', '=', false)
            .where(sql<boolean>`left(w.trigger_id, ${prefix.length}) = ${prefix}`),
        ),
      )
      .executeTakeFirst();
    return row ? new Date(row.checked_at).getTime() : null;
  }

  /** Shards with at least one subscription (a starting worker makes sure each has its watcher). */
  async shards(): Promise<number[]> {
    const rows = await this.db.selectFrom('package_watches').select('shard').distinct().execute();
    return rows.map((r) => r.shard).sort((a, b) => a - b);
  }
}
