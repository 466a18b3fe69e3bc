import { DefaultLogger } from '@temporalio/worker';
import type { trigger } from '../../workflows';
import { pollNowSignal } from '../../workflows/contracts/trigger';
import { workerSizing } from '../../src/runtime/worker';
import {
  CacheFullEvictions,
  FORCED_EVICTIONS,
  watchWorkflowCache,
} from '../../src/runtime/workflow-cache-watch';
import { countEvictions } from '../../src/runtime/workflow-evictions';
import { metricTotal, registry } from '../../src/observability/metrics';
import { freePort } from '../support/registry';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * A worker whose memory budget caches fewer workflows than it runs: the SDK evicts, each evicted trigger
 * replays when it wakes, and when the same triggers are evicted again within an interval the worker says
 * so once per check, naming the budget. Real worker, real dev server, the SDK's own eviction events.
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

test('evictions that recur within an interval are reported once per check with the budget to raise; first evictions are not', async () => {
  const capacity = workerSizing(MEMORY_MIB).maxCachedWorkflows;
  expect(capacity).toBe(20);
  // The worker took that size, and says so on /metrics for an alert to compare with the SDK's cache size.
  expect(env.worker.options.maxCachedWorkflows).toBe(20);
  expect(metricTotal(await registry.metrics(), 'feed_triggers_worker_workflow_cache_capacity')).toBe(20);
  // The worker's eviction events, by run, as the service records them for its warning.
  const log = new CacheFullEvictions();
  countEvictions(env.worker, log);
  const taken: Array<{ evicted: number; recurring: number }> = [];
  const warnings: Array<{ fields: Record<string, unknown>; message: string }> = [];
  const watch = watchWorkflowCache({
    capacity,
    memoryMiB: MEMORY_MIB,
    evictions: { take: () => (taken.push(log.take()), taken.at(-1)!) },
    warn: (fields, message) => warnings.push({ fields, message }),
    intervalMs: 3_600_000, // checked by hand below
  });
  try {
    // 15 triggers fit in 20: nothing evicted, nothing said.
    await startTriggers(0, 15);
    watch.check();
    expect(warnings).toEqual([]);
    expect(metricTotal(await sdkMetrics(), FORCED_EVICTIONS) ?? 0).toBe(0);

    // 15 more: 30 workflows in a cache of 20, so at least 10 were pushed out, each once. Triggers that
    // now sleep an hour (as watched ones do) replay once when they wake: not the cliff, nothing said.
    await startTriggers(15, 30);
    watch.check();
    expect(taken.at(-1)!.evicted).toBeGreaterThanOrEqual(10);
    expect(taken.at(-1)!.recurring).toBe(0);
    expect(warnings).toEqual([]);

    // Woken every "interval" (a signal to each of the thirty, three times): each round ends with at least
    // ten of them out of the cache, each evicted after its wake in that round. Which ten is the SDK's
    // business, but 40 evictions or more of 30 runs make at least ten of them a run's second: the cliff.
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 30; i++)
        await env.client.workflow.getHandle(`trigger/nowhere/t${i}`).signal(pollNowSignal);
      // Each has taken this round's signal, evaluated and gone back to sleep: no eviction is still to come.
      for (let i = 0; i < 30; i++)
        await eventually(async () => {
          const { events } = await env.client.workflow.getHandle(`trigger/nowhere/t${i}`).fetchHistory();
          const signals = events?.filter((e) => e.workflowExecutionSignaledEventAttributes) ?? [];
          const last = events?.lastIndexOf(signals.at(-1)!) ?? -1;
          return signals.length === round && events!.slice(last).some((e) => e.timerStartedEventAttributes)
            ? true
            : undefined;
        }, `t${i} to take its signal ${round} and sleep again`);
    }
    watch.check();
    expect(warnings).toHaveLength(1);
    expect(warnings[0].fields).toMatchObject({ cacheCapacity: 20, memoryMiB: MEMORY_MIB });
    expect(warnings[0].fields.recurring).toBeGreaterThanOrEqual(10);
    expect(warnings[0].fields.evicted).toBeGreaterThanOrEqual(30);
    expect(warnings[0].message).toMatch(/FEED_TRIGGERS_WORKER_MEMORY=128MiB; raise it/);

    // Nothing moved since: nothing more is said.
    watch.check();
    expect(warnings).toHaveLength(1);
  } finally {
    watch.stop();
  }
});
