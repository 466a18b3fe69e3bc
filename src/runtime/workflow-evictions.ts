import type { EventEmitter } from 'node:events';
import { coresdk } from '@temporalio/proto';
import type { Worker } from '@temporalio/worker';
import { metrics } from '../observability/metrics';
import { CacheFullEvictions } from './workflow-cache-watch';

const REASONS = coresdk.workflow_activation.RemoveFromCache.EvictionReason;

/** The metric label of an eviction's reason as the SDK core gives it: `task_not_found`, `cache_full`, ... */
export function evictionReasonLabel(reason: number | null | undefined): string {
  const name = typeof reason === 'number' ? REASONS[reason] : undefined;
  return typeof name === 'string' ? name.toLowerCase() : 'unspecified';
}

interface EvictionEvent {
  readonly runId?: string;
  readonly evictJob?: { readonly reason?: number | null } | null;
}

/**
 * Counts the worker's evictions by reason (`feed_triggers_workflow_evictions_total`). The SDK's own
 * `temporal_sticky_cache_total_forced_eviction` counts only those of a full cache; a cache with room evicts
 * too (a task that timed out, a signal that came while a task completed), and each such eviction replays the
 * workflow at its next task. Evictions from a full cache go to `cacheFull` by run, to tell the workflows that wake
 * every interval (the cliff) from those that sleep for hours. The SDK says why only on its worker's eviction events, a field its types keep
 * protected: read when present, a no-op when a later SDK moves it.
 */
export function countEvictions(worker: Worker, cacheFull?: CacheFullEvictions): void {
  const emitter = (worker as unknown as { evictionsEmitter?: EventEmitter }).evictionsEmitter;
  emitter?.on('eviction', (event: EvictionEvent) => {
    metrics.workflowEvictions.inc({ reason: evictionReasonLabel(event.evictJob?.reason) });
    if (event.evictJob?.reason === REASONS.CACHE_FULL && event.runId)
      cacheFull?.record(event.runId, Date.now());
  });
}
