import { randomUUID } from 'node:crypto';
import type { TrustedRootMaterial } from '../../src/supply-chain/keyless';
import { Client, Connection, WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, Logger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Feed } from '../../src/feeds/feed';
import { createWorker } from '../../src/runtime/worker';
import { NamedSecret } from '../../src/config/secrets';
import { OutboundPolicy } from '../../src/net/outbound';
import { Database } from '../../src/db/open';
import { openTestDatabase } from './database';
import { Ledger } from '../../src/db/ledger';
import { openStores, Stores } from '../../src/db/stores';
import type { DeliveryBackoff } from '../../src/domain/delivery';
import type { DeployBackoff } from '../../src/domain/lifecycle';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

let runtimeInstalled = false;

/** Keeps the SDK quiet in test output unless something is wrong; a test may capture every line instead. */
function installRuntime(logger?: Logger, sdkMetricsPort?: number): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: logger ?? new DefaultLogger('WARN'),
    // The SDK's Prometheus metrics on loopback, as the service serves them (src/main.ts).
    ...(sdkMetricsPort
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}` } } } }
      : {}),
  });
}

export interface TestWorkerEnv {
  readonly client: Client;
  readonly taskQueue: string;
  readonly worker: Worker;
  readonly ledger: Ledger;
  /** Every store on the worker's database (`ledger` is `stores.ledger`). */
  readonly stores: Stores;
  readonly database: Database;
  stop(): Promise<void>;
}

/** A worker on the run's dev server with a task queue of its own, and a client. */
export async function startTestWorker(
  options: {
    feeds?: ReadonlyMap<string, Feed>;
    pollCacheMs?: number;
    taskQueue?: string;
    logger?: Logger;
    secrets?: ReadonlyMap<string, NamedSecret>;
    /** PEM public keys by name, for signature rules whose keys are `{ secret: name }`. */
    signatureKeys?: ReadonlyMap<string, string>;
    /** Sigstore trusted roots by name, for keyless signers. */
    trustedRoots?: ReadonlyMap<string, TrustedRootMaterial>;
    outbound?: OutboundPolicy;
    extraActivities?: Record<string, (...args: never[]) => Promise<unknown>>;
    /** The ledger's database; by default an empty one of the worker's own on the run's PostgreSQL, dropped with it. */
    database?: Database;
    deliveryBackoff?: DeliveryBackoff;
    /** Waits between attempts at a deployment whose target is down; the service's default when absent. */
    deployBackoff?: DeployBackoff;
    queueHistoryLimit?: number;
    /** FEED_TRIGGERS_WORKER_MEMORY (sizes the workflow cache); the service's default when absent. */
    workerMemoryMiB?: number;
    /** Serve the SDK's metrics on this loopback port (only the first worker of a test file installs the runtime). */
    sdkMetricsPort?: number;
    /** Share listings and digests with the other workers on the database, as split roles on PostgreSQL do. */
    shareReads?: boolean;
    /** The worker's identity in workflow histories (tells two workers of one process apart). */
    identity?: string;
    /**
     * FEED_TRIGGERS_WATCHER_SHARDS: package watchers run when above 0. Off unless a test asks (the service runs
     * 32): most tests prove what a trigger's own polls do.
     */
    watcherShards?: number;
  } = {},
): Promise<TestWorkerEnv> {
  installRuntime(options.logger, options.sdkMetricsPort);
  const address = process.env.FEED_TRIGGERS_TEST_TEMPORAL_ADDRESS!;
  const namespace = process.env.FEED_TRIGGERS_TEST_NAMESPACE!;
  const taskQueue = options.taskQueue ?? `test-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const database = options.database ?? (await openTestDatabase());
  const stores = openStores(database);
  const { ledger } = stores;
  const worker = await createWorker({
    connection: nativeConnection,
    namespace,
    client,
    ledger,
    deliveryBackoff: options.deliveryBackoff ?? { initialMs: 500, maxMs: 2000, quickTries: 3 },
    deployBackoff: options.deployBackoff,
    queueHistoryLimit: options.queueHistoryLimit,
    extraActivities: options.extraActivities,
    ...(options.shareReads ? { listings: stores.listings, digests: stores.digests } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
    watches: stores.watches,
    changes: stores.changes,
    config: {
      taskQueue,
      feeds: options.feeds ?? new Map(),
      pollCacheMs: options.pollCacheMs ?? 0,
      secrets: options.secrets ?? new Map(),
      signatureKeys: options.signatureKeys,
      trustedRoots: options.trustedRoots,
      outbound: options.outbound,
      workerMemoryMiB: options.workerMemoryMiB,
      watcherShards: options.watcherShards ?? 0,
    },
    workflowBundle: { codePath: process.env.FEED_TRIGGERS_TEST_BUNDLE! },
  });
  const running = worker.run();
  return {
    client,
    taskQueue,
    worker,
    ledger,
    stores,
    database,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      if (!options.database) await database.close();
    },
  };
}

/**
 * The history of a workflow at rest: every workflow task it was given is finished, and it sleeps on a
 * timer started after the last one. What a test waits for (a release in the ledger, written by an
 * activity) can be there before the workflow task that follows it, so a test that counts events waits
 * for this rather than for a fixed time.
 */
export async function settledHistory(
  handle: Pick<WorkflowHandle, 'fetchHistory'>,
  what = 'the workflow to settle on a timer',
): Promise<HistoryEvent[]> {
  return eventually(async () => {
    const events = (await handle.fetchHistory()).events ?? [];
    const id = (e: HistoryEvent) => String(e.eventId);
    const scheduled = events.filter((e) => e.workflowTaskScheduledEventAttributes).map(id);
    const ended = new Set(
      events
        .map(
          (e) =>
            e.workflowTaskCompletedEventAttributes?.scheduledEventId ??
            e.workflowTaskFailedEventAttributes?.scheduledEventId ??
            e.workflowTaskTimedOutEventAttributes?.scheduledEventId,
        )
        .filter((s) => s !== undefined && s !== null)
        .map(String),
    );
    if (scheduled.some((s) => !ended.has(s))) return undefined;
    const lastTask = events.map((e) => !!e.workflowTaskCompletedEventAttributes).lastIndexOf(true);
    return lastTask >= 0 && events.slice(lastTask).some((e) => e.timerStartedEventAttributes)
      ? events
      : undefined;
  }, what);
}

/** Events a workflow task's commands write: they follow its completion, and wake nothing. */
const COMMAND_EVENTS = [
  'markerRecordedEventAttributes',
  'timerStartedEventAttributes',
  'timerCanceledEventAttributes',
  'activityTaskScheduledEventAttributes',
  'activityTaskCancelRequestedEventAttributes',
  'upsertWorkflowSearchAttributesEventAttributes',
  'workflowPropertiesModifiedEventAttributes',
] as const;

/** What `localActivityHeartbeats` reads of a history event. */
type TaskEvent = { readonly eventId?: unknown } & {
  readonly [
    K in
      | (typeof COMMAND_EVENTS)[number]
      | 'workflowTaskCompletedEventAttributes'
      | 'workflowTaskScheduledEventAttributes'
  ]?: unknown;
};

/**
 * The workflow tasks (by scheduled event id) that the SDK made to keep a slow local activity alive: when
 * one runs past 80 % of the task timeout, the SDK completes the task with the commands it has and asks
 * for another at once. Such a task follows the last one's commands with nothing that woke the workflow
 * (no signal, timer or activity result) between: it is a busy box's doing, not a cost of the workflow.
 */
export function localActivityHeartbeats(events: readonly TaskEvent[]): Set<string> {
  const heartbeats = new Set<string>();
  let sinceCompleted: TaskEvent[] | null = null;
  for (const e of events) {
    if (e.workflowTaskCompletedEventAttributes) sinceCompleted = [];
    else if (e.workflowTaskScheduledEventAttributes) {
      if (sinceCompleted?.every((c) => COMMAND_EVENTS.some((k) => c[k]))) heartbeats.add(String(e.eventId));
      sinceCompleted = null;
    } else sinceCompleted?.push(e);
  }
  return heartbeats;
}

/** Polls `probe` until it returns a value other than undefined, or fails with the last seen state. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
