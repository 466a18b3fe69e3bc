import { EventEmitter } from 'node:events';
import type { Worker } from '@temporalio/worker';
import { coresdk } from '@temporalio/proto';
import { countEvictions, evictionReasonLabel } from '../../src/runtime/workflow-evictions';
import { metrics } from '../../src/observability/metrics';

const { EvictionReason } = coresdk.workflow_activation.RemoveFromCache;

describe('workflow evictions by reason', () => {
  test("names each of the SDK core's reasons as a label", () => {
    expect(evictionReasonLabel(EvictionReason.TASK_NOT_FOUND)).toBe('task_not_found');
    expect(evictionReasonLabel(EvictionReason.CACHE_FULL)).toBe('cache_full');
    expect(evictionReasonLabel(EvictionReason.UNHANDLED_COMMAND)).toBe('unhandled_command');
    expect(evictionReasonLabel(EvictionReason.WORKFLOW_EXECUTION_ENDING)).toBe('workflow_execution_ending');
  });

  test('a reason it does not know, or none, is unspecified', () => {
    expect(evictionReasonLabel(99)).toBe('unspecified');
    expect(evictionReasonLabel(null)).toBe('unspecified');
    expect(evictionReasonLabel(undefined)).toBe('unspecified');
  });

  test("counts the worker's eviction events by reason", async () => {
    const emitter = new EventEmitter();
    const before = async (reason: string) =>
      (await metrics.workflowEvictions.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
    const timedOut0 = await before('task_not_found');
    const full0 = await before('cache_full');
    countEvictions({ evictionsEmitter: emitter } as unknown as Worker);
    emitter.emit('eviction', { runId: 'a', evictJob: { reason: EvictionReason.TASK_NOT_FOUND } });
    emitter.emit('eviction', { runId: 'b', evictJob: { reason: EvictionReason.TASK_NOT_FOUND } });
    emitter.emit('eviction', { runId: 'c', evictJob: { reason: EvictionReason.CACHE_FULL } });
    expect((await before('task_not_found')) - timedOut0).toBe(2);
    expect((await before('cache_full')) - full0).toBe(1);
  });

  test('a worker without the eviction events (a later SDK) is left alone', () => {
    expect(() => countEvictions({} as Worker)).not.toThrow();
  });
});
