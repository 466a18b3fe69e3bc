import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { log } from '@temporalio/activity';
import type { PackageCheck, PackageWatches } from '../src/db/package-watches';
import { phaseHash } from '../src/domain/trigger-machine';
import { watchedPackageKey } from '../src/domain/trigger';
import { watcherDueAt } from '../src/domain/watch-slots';
import { listingFingerprint } from '../src/feeds/package-source';
import { HttpError } from '../src/net/errors';
import { ensureWatcher, pollTriggerNow } from '../workflows/contracts/client';
import type {
  CheckPackagesResult,
  WatcherActivities,
  WatchPackagesInput,
  WatchPackagesResult,
} from '../workflows/contracts/activities';
import type { ListingReader } from './poll';
import { withLiveness } from './liveness';

export interface WatcherDependencies {
  /** Subscriptions and checks; absent on a worker that runs no watchers. */
  readonly watches?: PackageWatches;
  /** How many watchers share the packages (FEED_TRIGGERS_WATCHER_SHARDS); 0: no watchers. */
  readonly shards: number;
  readonly client: Client;
  readonly taskQueue: string;
  readonly reader: ListingReader;
}

/** Packages read at once by one watcher, and triggers woken at once. */
const READS_AT_ONCE = 8;
const WAKES_AT_ONCE = 20;
/**
 * A package due within this much of a check is read in it, so a shard's packages stay read together (each is
 * due at its shard's slot in its interval: watcherDueAt).
 */
const DUE_TOLERANCE_MS = 1_000;
/** The shortest sleep between checks. */
const MIN_SLEEP_MS = 1_000;
/**
 * How long a watcher this worker started or found running is taken as running without asking the server
 * again. Triggers created together subscribe hundreds a second, a few dozen shards between them: without
 * this, each subscription is a workflow start on the server. Short, so a watcher that ended (its shard had no
 * package left) is started again by the next subscriber within seconds.
 */
const WATCHER_KNOWN_MS = 5_000;

/** The shard a package's watcher is, by a stable hash of its `feed/package` key. */
export function shardOf(key: string, shards: number): number {
  return phaseHash(`watcher:${key}`) % shards;
}

/** Runs `work` over `items`, at most `limit` at once. */
async function inBatches<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Package watchers' activities: subscribing a trigger, and one shard's check. */
export function createWatcherActivities(deps: WatcherDependencies): WatcherActivities {
  // Shard → when this worker last started or found its watcher running.
  const running = new Map<number, number>();
  const ensure = async (shard: number) => {
    const known = running.get(shard);
    if (known !== undefined && Date.now() - known < WATCHER_KNOWN_MS) return;
    await ensureWatcher(deps.client, deps.taskQueue, shard);
    running.set(shard, Date.now());
  };
  return {
    async watchPackages(input: WatchPackagesInput): Promise<WatchPackagesResult> {
      const { watches } = deps;
      if (!watches) return { watching: false };
      const packages =
        deps.shards > 0
          ? input.packages.map((p) => {
              const key = watchedPackageKey(p.feed, p.package);
              return { key, feed: p.feed, package: p.package, shard: shardOf(key, deps.shards) };
            })
          : [];
      const shards = await watches.watch(
        input.trigger,
        packages,
        input.intervalSeconds * 1000,
        input.channel ?? null,
        input.paused ?? false,
      );
      const seen = input.fingerprints ?? {};
      // A package new to its watcher starts from what the trigger's poll saw (its fingerprint, else the listing
      // in this worker's cache): a change after it is one the watcher wakes for, one before it the poll saw.
      // Without this the watcher's first read would have to wake every subscriber, in case the poll's listing
      // was older.
      const known = await watches.checks(packages.map((p) => p.key));
      const seeds = await Promise.all(
        packages
          .filter((p) => !known.has(p.key))
          .map(async (p): Promise<PackageCheck | null> => {
            const listedAt = new Date();
            const fingerprint = seen[p.key];
            if (typeof fingerprint === 'string')
              return { key: p.key, checkedAt: listedAt, fingerprint, error: null };
            try {
              const listing = await deps.reader.listing(deps.reader.feedFor(p.feed), p.package, null);
              return {
                key: p.key,
                checkedAt: listedAt,
                fingerprint: listingFingerprint(listing),
                error: null,
              };
            } catch {
              return null; // the watcher's first read wakes the subscribers instead
            }
          }),
      );
      await watches.seed(seeds.filter((c): c is PackageCheck => c !== null));
      // Caught up: every watcher compares against exactly what the trigger's poll saw, so no change can fall
      // between that poll and this subscription (read after the seeds: another subscriber's seed may have won).
      // A watcher that records a change after this read looks for subscribers again and wakes this one.
      let caughtUp = false;
      if (packages.length > 0 && packages.every((p) => typeof seen[p.key] === 'string')) {
        const now = seeds.length > 0 ? await watches.checks(packages.map((p) => p.key)) : known;
        caughtUp = packages.every((p) => now.get(p.key)?.fingerprint === seen[p.key]);
      }
      await Promise.all(shards.map(ensure));
      return { watching: packages.length > 0, caughtUp };
    },

    async checkPackages({ shard }: { shard: number }): Promise<CheckPackagesResult> {
      const { watches } = deps;
      if (!watches || deps.shards === 0)
        return { packages: 0, read: 0, changed: 0, nextCheckInMs: MIN_SLEEP_MS };
      return withLiveness(async (signal) => {
        const packages = await watches.shardPackages(shard);
        // This watcher ends: the next subscriber in its shard starts it again, without waiting for the memo.
        if (packages.length === 0) running.delete(shard);
        const startedAt = Date.now();
        const dueAt = (p: { intervalMs: number }, lastMs: number | null, nowMs: number) =>
          watcherDueAt(shard, p.intervalMs, lastMs, nowMs);
        const due = packages.filter(
          (p) => dueAt(p, p.checkedAt?.getTime() ?? null, startedAt) - DUE_TOLERANCE_MS <= startedAt,
        );
        const checks = await inBatches(due, READS_AT_ONCE, async (p) => {
          const listedAt = Date.now();
          let check: PackageCheck;
          try {
            const feed = deps.reader.feedFor(p.feed);
            const listing = await deps.reader.listing(feed, p.package, 0, signal);
            check = {
              key: p.key,
              checkedAt: new Date(listedAt),
              fingerprint: listingFingerprint(listing),
              error: null,
            };
          } catch (err) {
            signal.throwIfAborted();
            const code = err instanceof HttpError ? String(err.code) : 'ERROR';
            const message = (err instanceof Error ? err.message : String(err)).slice(0, 500);
            check = {
              key: p.key,
              checkedAt: new Date(listedAt),
              fingerprint: `error:${code}`,
              error: { code, message },
            };
          }
          return { check, listedAt, changed: check.fingerprint !== p.fingerprint };
        });
        const changed = checks.filter((c) => c.changed);
        // The triggers each changed package's subscribers were woken, by key.
        const woken = new Map<string, Set<string>>();
        const wake = async ({ check, listedAt }: (typeof changed)[number]) => {
          const told = woken.get(check.key) ?? new Set<string>();
          woken.set(check.key, told);
          const triggers = (await watches.subscribers([check.key])).filter((t) => !told.has(t));
          const gone: string[] = [];
          await inBatches(triggers, WAKES_AT_ONCE, async (trigger) => {
            try {
              // A failed read wakes them to poll for themselves (and show the feed's error as they do today);
              // a changed listing is shared with their polls.
              await pollTriggerNow(
                deps.client,
                trigger,
                check.error ? { source: 'watcher' } : { source: 'watcher', listedAt },
              );
              told.add(trigger);
            } catch (err) {
              if (err instanceof WorkflowNotFoundError) gone.push(trigger);
              else throw err;
            }
          });
          // A deleted trigger unsubscribes when it is next to be woken.
          await watches.forget(gone);
        };
        // Wake first, record after: a check lost between the two is tried again and wakes them again.
        for (const c of changed) await wake(c);
        await watches.record(checks.map((c) => c.check));
        // A trigger that subscribed during the check, and found the fingerprint from before it (so took itself
        // as caught up: watchPackages), is woken now: it subscribed before this second look.
        for (const c of changed) await wake(c);
        if (changed.length > 0)
          log.info('package watcher woke triggers', {
            shard,
            changed: changed.map((c) => c.check.key).slice(0, 20),
          });
        const now = Date.now();
        const read = new Map(checks.map((c) => [c.check.key, c.check.checkedAt.getTime()]));
        let next = Number.POSITIVE_INFINITY;
        for (const p of packages) {
          const last = read.get(p.key) ?? p.checkedAt?.getTime() ?? now;
          next = Math.min(next, dueAt(p, last, now) - now);
        }
        return {
          packages: packages.length,
          read: checks.length,
          changed: changed.length,
          nextCheckInMs: Math.max(MIN_SLEEP_MS, Number.isFinite(next) ? Math.round(next) : MIN_SLEEP_MS),
        };
      });
    },
  };
}
