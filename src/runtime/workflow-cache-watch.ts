import { metricTotal } from '../observability/metrics';

/**
 * The SDK counts here each workflow it evicted before its run ended: out of a full cache, and also after a
 * workflow task that timed out (bench:scale: 4,865 with the cache not full), so the size decides which it was.
 */
export const FORCED_EVICTIONS = 'temporal_sticky_cache_total_forced_eviction';
/** ...and here how many workflows it holds now. */
export const CACHE_SIZE = 'temporal_sticky_cache_size';

export interface WorkflowCacheWatchOptions {
  /** The cache's size, as the SDK took it from `workerSizing` (from the memory budget). */
  readonly capacity: number;
  readonly memoryMiB: number;
  /** The SDK's metrics text (null when it could not be read: that check is skipped). */
  readonly readSdkMetrics: () => Promise<string | null>;
  readonly warn: (fields: Record<string, unknown>, message: string) => void;
  /** How often to look, and so at most how often to warn. */
  readonly intervalMs?: number;
}

/**
 * Warns when the worker's workflow cache is too small for the workflows it runs. Triggers wake in a cycle,
 * so a cache smaller than their number is a cliff, not a slope: the least recently used workflow is the
 * next to wake, every wake misses, and every miss replays the trigger's history (CPU, and poll lag at
 * scale). The SDK counts the evictions; this turns them into one warning per interval that names the
 * budget to raise. A worker whose triggers all fit logs nothing.
 */
export function watchWorkflowCache(options: WorkflowCacheWatchOptions): {
  check(): Promise<void>;
  stop(): void;
} {
  let last: number | null = null;
  const check = async () => {
    const text = await options.readSdkMetrics().catch(() => null);
    if (text === null) return;
    const now = metricTotal(text, FORCED_EVICTIONS) ?? 0;
    const before = last ?? 0;
    last = now;
    // A counter that went back (the SDK's runtime restarted) starts again from zero.
    const evicted = now >= before ? now - before : now;
    // Evictions of a cache with room (a workflow task that failed is evicted too) are not this.
    const size = metricTotal(text, CACHE_SIZE);
    if (evicted === 0 || (size !== null && size < options.capacity * 0.9)) return;
    options.warn(
      { evicted, cacheCapacity: options.capacity, memoryMiB: options.memoryMiB },
      `the workflow cache is full: ${evicted} workflows were evicted since the last check, and each replays ` +
        `its history when it next wakes. This worker caches ${options.capacity} workflows within ` +
        `FEED_TRIGGERS_WORKER_MEMORY=${options.memoryMiB}MiB; raise it (about 0.6 MiB per trigger) or start ` +
        'another worker on the same task queue',
    );
  };
  const timer = setInterval(() => void check(), options.intervalMs ?? 60_000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
