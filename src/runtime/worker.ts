import { NativeConnection, Worker, WorkflowBundleOption } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { createDeliveryActivities } from '../../activities/deliver';
import { createPollActivities } from '../../activities/poll';
import { createChannelActivities } from '../../activities/channel';
import { createLedgerActivities, LedgerDependencies } from '../../activities/ledger';
import { createLifecycleActivities, LifecycleDependencies } from '../../activities/lifecycle';
import { createRetentionActivities } from '../../activities/retention';
import { Ledger } from '../db/ledger';
import { SharedListings } from '../db/feed-listings';
import { Config, DEFAULT_WORKER_MEMORY_MIB } from '../config';
import { HttpClient } from '../net/http';
import { CredentialStore, EcrTokenSource } from '../feeds/credentials';
import { HelmRepositoryClient } from '../feeds/helm';
import { ImageConfig, OciClient } from '../feeds/oci';
import { PackageListing, PackageSource } from '../feeds/package-source';
import { SingleFlightCache } from '../feeds/single-flight';
import { cachedWorkflowBundle } from './workflow-bundle';
import { removeStaleGitFolders } from '../targets/git/write-back';
import { metrics } from '../observability/metrics';

export interface WorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  /** Activities start release workflows and destination queues through this client. */
  readonly client: Client;
  /** The system of record for projects, releases and deliveries. */
  readonly ledger: Ledger;
  /** Waits between delivery attempts while a destination is down (tests shorten them). */
  readonly deliveryBackoff?: LedgerDependencies['deliveryBackoff'];
  /** Waits between attempts at a deployment while a target is down (tests shorten them). */
  readonly deployBackoff?: LifecycleDependencies['deployBackoff'];
  readonly queueHistoryLimit?: number;
  readonly config: Pick<Config, 'taskQueue' | 'feeds' | 'pollCacheMs' | 'secrets'> &
    Partial<Pick<Config, 'outbound' | 'workerMemoryMiB'>>;
  /** A prebuilt bundle (tests build one for all workers); otherwise the workflows are bundled here. */
  readonly workflowBundle?: WorkflowBundleOption;
  /** Where ECR tokens come from (the AWS SDK unless a test stands in for ECR). */
  readonly ecrTokenSource?: EcrTokenSource;
  /** Tag listings shared with the other workers on the ledger's database (split roles on PostgreSQL). */
  readonly listings?: SharedListings;
  /** Where the worker's own warnings go (the service's logger). */
  readonly log?: (message: string) => void;
  /** Replacements for activities by name (tests that stop a worker mid-activity). */
  readonly extraActivities?: Record<string, (...args: never[]) => Promise<unknown>>;
}

/** What the process needs besides its workflow cache: Node, the SDK's core, the bundle, caches, the API. */
const BASE_MIB = 320;
/** A cached trigger, release or queue workflow (its state, history-derived objects and V8 context share). */
const CACHED_WORKFLOW_MIB = 0.25;

/**
 * Sizes the worker from its memory budget: as many workflows stay cached as fit, the rest are replayed
 * from their (short) histories when they wake. Activities are network-bound: many run at once.
 */
export function workerSizing(memoryMiB: number) {
  const maxCachedWorkflows = Math.max(20, Math.floor((memoryMiB - BASE_MIB) / CACHED_WORKFLOW_MIB));
  return {
    maxCachedWorkflows,
    maxConcurrentActivityTaskExecutions: 200,
    // Idle polls run here first (most answered from the shared listing cache), inside workflow tasks.
    maxConcurrentLocalActivityExecutions: 200,
    // An idle poll runs inside its workflow task (a local activity), which holds a slot until the poll
    // returns: with 40 slots and ~1 s polls, 2,000 triggers a minute queued for minutes. Slots are permits,
    // not threads; activations still run one at a time per workflow thread.
    // (The SDK allows no more tasks at once than workflows cached.)
    maxConcurrentWorkflowTaskExecutions: Math.min(200, maxCachedWorkflows),
    // Pollers follow the task queue's backlog instead of a fixed 10 (the server says when more would help).
    activityTaskPollerBehavior: { type: 'autoscaling', minimum: 2, initial: 5, maximum: 40 },
    workflowTaskPollerBehavior: { type: 'autoscaling', minimum: 2, initial: 5, maximum: 20 },
  } as const;
}

/** Builds the activities with their per-worker caches, and a worker for the trigger workflows. */
export async function createWorker(options: WorkerOptions): Promise<Worker> {
  // Git write-back folders a kill -9 left behind (they may hold a deploy key) go before any attempt.
  for (const folder of await removeStaleGitFolders())
    options.log?.(`removed the write-back folder ${folder} a stopped worker left`);
  const http = new HttpClient({ policy: options.config.outbound });
  const credentials = new CredentialStore(http, options.ecrTokenSource);
  const source = new PackageSource(
    new OciClient(http, credentials),
    new HelmRepositoryClient(http, credentials),
  );
  const polls = createPollActivities({
    source,
    feeds: options.config.feeds,
    tagCache: new SingleFlightCache<PackageListing>(options.config.pollCacheMs),
    digestCache: new SingleFlightCache<string | null>(options.config.pollCacheMs),
    configCache: new SingleFlightCache<ImageConfig>(options.config.pollCacheMs),
    ...(options.listings
      ? { shared: { listings: options.listings, ttlMs: options.config.pollCacheMs } }
      : {}),
  });
  const ledger = createLedgerActivities({
    ledger: options.ledger,
    client: options.client,
    taskQueue: options.config.taskQueue,
    deliveryBackoff: options.deliveryBackoff,
    queueHistoryLimit: options.queueHistoryLimit,
  });
  const activities = {
    ...polls,
    ...ledger,
    ...createChannelActivities({ loadChannel: ledger.loadChannel, pollPackage: polls.pollPackage }),
    ...createDeliveryActivities({ ledger: options.ledger, http, secrets: options.config.secrets }),
    ...createLifecycleActivities({
      ledger: options.ledger,
      client: options.client,
      taskQueue: options.config.taskQueue,
      http,
      secrets: options.config.secrets,
      outbound: options.config.outbound,
      deployBackoff: options.deployBackoff,
    }),
    ...createRetentionActivities({ ledger: options.ledger, client: options.client }),
    ...options.extraActivities,
  };
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.config.taskQueue,
    activities,
    ...workerSizing(options.config.workerMemoryMiB ?? DEFAULT_WORKER_MEMORY_MIB),
    workflowBundle: options.workflowBundle ?? (await cachedWorkflowBundle()),
  });
  // What the SDK settled on, not what was asked: the cache warning (src/main.ts) reads the same.
  metrics.workflowCacheCapacity.set(worker.options.maxCachedWorkflows);
  return worker;
}
