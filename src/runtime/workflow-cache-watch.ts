/**
 * The SDK counts here each workflow it evicted before its run ended: out of a full cache, and also after a
 * workflow task that timed out (bench:scale: 4,865 with the cache not full).
 */
export const FORCED_EVICTIONS = 'temporal_sticky_cache_total_forced_eviction';

/**
 * How soon a second eviction of the same run makes it a recurring one: longer than the intervals triggers
 * poll at on their own (a minute to a few), shorter than a watched trigger's safety poll (an hour at least),
 * so a watched trigger that wakes on its safety poll and is evicted again between two of them never counts.
 */
export const RECURRING_WITHIN_MS = 30 * 60_000;

/**
 * The runs evicted from a full cache, and how many of them had been evicted within `withinMs` already:
 * those woke again before the cache could keep them, so each of their wakes replays. Remembers each run's
 * last eviction for `withinMs` (at most `maxRuns` runs, the oldest forgotten first).
 */
export class CacheFullEvictions {
  private readonly last = new Map<string, number>();
  private evicted = 0;
  private recurring = 0;

  constructor(
    private readonly withinMs = RECURRING_WITHIN_MS,
    private readonly maxRuns = 100_000,
  ) {}

  record(runId: string, at: number): void {
    this.evicted++;
    const before = this.last.get(runId);
    if (before !== undefined && at - before <= this.withinMs) this.recurring++;
    // Re-inserted, so the map stays in the order of last eviction and the oldest are first to go.
    this.last.delete(runId);
    this.last.set(runId, at);
    for (const [id, t] of this.last) {
      if (at - t <= this.withinMs && this.last.size <= this.maxRuns) break;
      this.last.delete(id);
    }
  }

  /** The evictions since the last call, and how many of them were recurring. */
  take(): { evicted: number; recurring: number } {
    const counts = { evicted: this.evicted, recurring: this.recurring };
    this.evicted = 0;
    this.recurring = 0;
    return counts;
  }

  /** Runs remembered now (for tests of the bound). */
  get remembered(): number {
    return this.last.size;
  }
}

/**
 * Whether evictions since the last check are the cliff: recurring ones, at least one in a hundred of the
 * cache's workflows (fewer are triggers woken again by a package that changed twice, not a cache too small).
 */
export function cacheTooSmall(counts: { recurring: number }, capacity: number): boolean {
  return counts.recurring > 0 && counts.recurring >= Math.ceil(capacity / 100);
}

export interface WorkflowCacheWatchOptions {
  /** The cache's size, as the SDK took it from `workerSizing` (from the memory budget). */
  readonly capacity: number;
  readonly memoryMiB: number;
  /** The worker's evictions from a full cache (`countEvictions` records them). */
  readonly evictions: Pick<CacheFullEvictions, 'take'>;
  readonly warn: (fields: Record<string, unknown>, message: string) => void;
  /** How often to look, and so at most how often to warn. */
  readonly intervalMs?: number;
}

/**
 * Warns when the worker's workflow cache is too small for the workflows that wake every interval. A cache
 * smaller than the workflows a worker runs is not itself a fault: with package watchers an idle trigger
 * wakes only on its safety poll (an hour or more) or when its package changes, so it can be evicted and
 * replayed from its short history at that wake. But triggers that poll on their own wake in a cycle, and a
 * cache smaller than their number is a cliff: the least recently used workflow is the next to wake, every
 * wake misses, and every miss replays the trigger's history (CPU, and poll lag at scale). So it warns when
 * runs are evicted again within `RECURRING_WITHIN_MS` of their last eviction, once per check, naming the
 * budget to raise. A worker whose evicted triggers stay asleep logs nothing.
 */
export function watchWorkflowCache(options: WorkflowCacheWatchOptions): {
  check(): void;
  stop(): void;
} {
  const check = () => {
    const counts = options.evictions.take();
    if (!cacheTooSmall(counts, options.capacity)) return;
    const minutes = RECURRING_WITHIN_MS / 60_000;
    options.warn(
      { ...counts, cacheCapacity: options.capacity, memoryMiB: options.memoryMiB },
      `the workflow cache is too small for the workflows that wake every interval: ${counts.recurring} of the ` +
        `${counts.evicted} workflows evicted since the last check had been evicted within ${minutes} minutes ` +
        'already, so they wake more often than they stay cached and each replays its history at every wake. ' +
        `This worker caches ${options.capacity} workflows within ` +
        `FEED_TRIGGERS_WORKER_MEMORY=${options.memoryMiB}MiB; raise it (about 0.6 MiB per trigger), start ` +
        'another worker on the same task queue, or let package watchers wake the triggers',
    );
  };
  const timer = setInterval(check, options.intervalMs ?? 60_000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
