import { phaseHash } from './trigger-machine';

/**
 * When a package watcher next reads a package: at its shard's slot in the package's interval, the first slot
 * at least half an interval after the last read (a package never read is due at once). Each shard reads at a
 * moment of its own, so the shards spread their reads over the interval; a read that came late (every watcher
 * woke together after the service was down) puts the next one back on the slot, instead of keeping all the
 * shards on the moment they woke, which would read every package in the same second of every interval.
 */
export function watcherDueAt(shard: number, intervalMs: number, checkedAtMs: number | null): number {
  if (checkedAtMs === null) return Number.NEGATIVE_INFINITY;
  const phase = phaseHash(`watcher-slot:${shard}`) % intervalMs;
  const from = checkedAtMs + Math.floor(intervalMs / 2);
  return from + ((((phase - from) % intervalMs) + intervalMs) % intervalMs);
}
