import { DefaultLogger } from '@temporalio/worker';
import type { trigger } from '../../workflows';
import { pollNowSignal } from '../../workflows/contracts/trigger';
import { workerSizing } from '../../src/runtime/worker';
import { FORCED_EVICTIONS, watchWorkflowCache } from '../../src/runtime/workflow-cache-watch';
import { metricTotal, registry } from '../../src/observability/metrics';
import { freePort } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * A worker whose memory budget caches fewer workflows than it runs: the SDK evicts, each evicted trigger
 * replays when it wakes, and the worker says so once per check, naming the budget. Real worker, real dev
 * server, the SDK's own Prometheus counters.
 */
const MEMORY_MIB = 128; // the smallest budget: a cache of 20 workflows
let env: TestWorkerEnv;
let sdkMetrics: () => Promise<string>;

beforeAll(async () => {
  const port = await freePort();
  // Quiet: every trigger's poll fails on purpose (no such project).
  env = await startTestWorker({
    workerMemoryMiB: MEMORY_MIB,
    sdkMetricsPort: port,
    logger: new DefaultLogger('ERROR'),
  });
  sdkMetrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
});

afterAll(async () => env?.stop());

/** Triggers on a project the ledger does not know: each evaluates once, records the error and sleeps. */
async function startTriggers(from: number, to: number): Promise<void> {
  const names = Array.from({ length: to - from }, (_, i) => `t${from + i}`);
  await Promise.all(
    names.map((name) =>
      env.client.workflow.start<typeof trigger>('trigger', {
        taskQueue: env.taskQueue,
        workflowId: `trigger/nowhere/${name}`,
        args: [{ spec: { project: 'nowhere', name, channel: 'default', intervalSeconds: 3600 } }],
      }),
    ),
  );
  // Each has evaluated once and sleeps on its timer.
  for (const name of names)
    await eventually(
      async () => {
        const { events } = await env.client.workflow.getHandle(`trigger/nowhere/${name}`).fetchHistory();
        return events?.some((e) => e.timerStartedEventAttributes) ? true : undefined;
      },
      `${name} to sleep`,
      30_000,
    );
}

test('a cache too small for the triggers is reported once per check with the budget to raise; one that fits is not', async () => {
  const capacity = workerSizing(MEMORY_MIB).maxCachedWorkflows;
  expect(capacity).toBe(20);
  // The worker took that size, and says so on /metrics for an alert to compare with the SDK's cache size.
  expect(env.worker.options.maxCachedWorkflows).toBe(20);
  expect(metricTotal(await registry.metrics(), 'feed_triggers_worker_workflow_cache_capacity')).toBe(20);
  const warnings: Array<{ fields: Record<string, unknown>; message: string }> = [];
  const watch = watchWorkflowCache({
    capacity,
    memoryMiB: MEMORY_MIB,
    readSdkMetrics: sdkMetrics,
    warn: (fields, message) => warnings.push({ fields, message }),
    intervalMs: 3_600_000, // checked by hand below
  });
  try {
    // 15 triggers fit in 20: nothing evicted, nothing said.
    await startTriggers(0, 15);
    await watch.check();
    expect(warnings).toEqual([]);
    expect(metricTotal(await sdkMetrics(), FORCED_EVICTIONS) ?? 0).toBe(0);

    // 15 more: 30 workflows in a cache of 20, so at least 10 were pushed out.
    await startTriggers(15, 30);
    await watch.check();
    expect(warnings).toHaveLength(1);
    expect(warnings[0].fields).toMatchObject({ cacheCapacity: 20, memoryMiB: MEMORY_MIB });
    expect(warnings[0].fields.evicted).toBeGreaterThanOrEqual(10);
    expect(warnings[0].message).toMatch(/FEED_TRIGGERS_WORKER_MEMORY=128MiB; raise it/);

    // Evicted triggers woken by a signal come back into the cache (replayed) and push out others. Which
    // ten of the thirty are out is the SDK's business, so all are woken: at least ten of them miss.
    const evictedBefore = metricTotal(await sdkMetrics(), FORCED_EVICTIONS)!;
    for (let i = 0; i < 30; i++)
      await env.client.workflow.getHandle(`trigger/nowhere/t${i}`).signal(pollNowSignal);
    // Each has taken its signal, evaluated and gone back to sleep: no eviction is still to come.
    for (let i = 0; i < 30; i++)
      await eventually(async () => {
        const { events } = await env.client.workflow.getHandle(`trigger/nowhere/t${i}`).fetchHistory();
        const signalled = events?.findIndex((e) => e.workflowExecutionSignaledEventAttributes) ?? -1;
        return signalled >= 0 && events!.slice(signalled).some((e) => e.timerStartedEventAttributes)
          ? true
          : undefined;
      }, `t${i} to take its signal and sleep again`);
    expect(metricTotal(await sdkMetrics(), FORCED_EVICTIONS)).toBeGreaterThanOrEqual(evictedBefore + 10);
    await watch.check();
    expect(warnings).toHaveLength(2);
    expect(warnings[1].fields.evicted).toBeGreaterThanOrEqual(10);

    // Nothing moved since: nothing more is said.
    await watch.check();
    expect(warnings).toHaveLength(2);
  } finally {
    watch.stop();
  }
});
