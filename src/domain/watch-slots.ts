import { MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS } from './interval';
import { phaseHash } from './trigger-machine';

/**
 * When a package watcher next reads a package: at its shard's slot in the package's interval, the first slot
 * at least half an interval after the last read (a package never read is due at once). Each shard reads at a
 * moment of its own, so the shards spread their reads over the interval; a read that came late (every watcher
 * woke together after the service was down) puts the next one back on the slot, instead of keeping all the
 * shards on the moment they woke, which would read every package in the same second of every interval.
 *
 * The ledger's values are not trusted to be sane: a last read after `nowMs` (written by a worker whose clock ran
 * ahead) counts as a read now, or the package would go unread until that clock's time came; a last read that is
 * not a number counts as none; an interval outside the triggers' bounds (0 gave NaN: never due) is brought
 * inside them.
 */
export function watcherDueAt(
  shard: number,
  intervalMs: number,
  checkedAtMs: number | null,
  nowMs: number,
): number {
  if (checkedAtMs === null || !Number.isFinite(checkedAtMs)) return Number.NEGATIVE_INFINITY;
  const interval = Math.min(
    Math.max(Number.isFinite(intervalMs) ? intervalMs : 0, MIN_INTERVAL_SECONDS * 1000),
    MAX_INTERVAL_SECONDS * 1000,
  );
  const phase = phaseHash(`watcher-slot:${shard}`) % interval;
  const from = Math.min(checkedAtMs, nowMs) + Math.floor(interval / 2);
  return from + ((((phase - from) % interval) + interval) % interval);
}
