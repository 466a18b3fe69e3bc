import { NativeConnection, Worker, WorkflowBundleOption } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { createDeliveryActivities } from '../../activities/deliver';
import { createListingReader, createPollActivities } from '../../activities/poll';
import { createWatcherActivities } from '../../activities/watch';
import { createChannelActivities } from '../../activities/channel';
import { createLedgerActivities, LedgerDependencies } from '../../activities/ledger';
import { createLifecycleActivities, LifecycleDependencies } from '../../activities/lifecycle';
import { createRetentionActivities } from '../../activities/retention';
import { createAnnounceActivities } from '../../activities/announce';
import type { ChangeStore } from '../db/changes';
import { Ledger } from '../db/ledger';
import { SharedDigests, SharedListings } from '../db/feed-listings';
import type { PackageWatches } from '../db/package-watches';
import { Config, DEFAULT_WORKER_MEMORY_MIB } from '../config';
import { HttpClient } from '../net/http';
import { CredentialStore, EcrTokenSource } from '../feeds/credentials';
import { HelmRepositoryClient } from '../feeds/helm';
import { ImageConfig, OciClient } from '../feeds/oci';
import { PackageListing, PackageSource } from '../feeds/package-source';
import { SingleFlightCache } from '../feeds/single-flight';
import { cachedWorkflowBundle } from './workflow-bundle';
import { countEvictions } from './workflow-evictions';
import { CacheFullEvictions } from './workflow-cache-watch';
import { removeStaleGitFolders } from '../targets/git/write-back';
import { metrics } from '../observability/metrics';
import { watchedPackageKey } from '../domain/trigger';

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
    Partial<
      Pick<Config, 'outbound' | 'workerMemoryMiB' | 'watcherShards' | 'signatureKeys' | 'trustedRoots'>
    >;
  /** Trigger subscriptions and package checks: package watchers run when this and `watcherShards` are set. */
  readonly watches?: PackageWatches;
  /** A prebuilt bundle (tests build one for all workers); otherwise the workflows are bundled here. */
  readonly workflowBundle?: WorkflowBundleOption;
  /** Where ECR tokens come from (the AWS SDK unless a test stands in for ECR). */
  readonly ecrTokenSource?: EcrTokenSource;
  /** Tag listings shared with the other workers on the ledger's database (split roles on PostgreSQL). */
  readonly listings?: SharedListings;
  /** Tag digests shared the same way (with `listings` only). */
  readonly digests?: SharedDigests;
  /** The ledger's change channel: triggers announce changes of what the console shows of them through it. */
  readonly changes?: ChangeStore;
  /** Where the worker's own warnings go (the service's logger). */
  readonly log?: (message: string) => void;
  /** The worker's identity in workflow histories (the SDK's pid@host when absent). */
  readonly identity?: string;
  /** Where the worker records its evictions from a full cache (the cache warning reads them). */
  readonly cacheFullEvictions?: CacheFullEvictions;
  /** Replacements for activities by name (tests that stop a worker mid-activity). */
  readonly extraActivities?: Record<string, (...args: never[]) => Promise<unknown>>;
}

/**
 * The worker's RSS before it caches a workflow: Node, the SDK's core and its threads, the ledger and HTTP
 * pools (248 MB measured at start on a 2-core box, bench:scale), and the workflow thread with the bundle.
 */
const BASE_MIB = 300;
/** What the activities and local activities in flight hold at most (200 + 200 polls, their listings and answers). */
const ACTIVITIES_MIB = 60;
/**
 * The RSS a cached trigger, release or queue workflow adds, as measured, not as V8 counts it: its state in the
 * workflow thread's heap, the SDK core's copy of its run, and the allocator's slack from replaying evicted
 * ones. bench:scale measured 0.46 MiB (1,554 MB RSS with 2,816 triggers cached, 20,000 running) and 0.59 MiB
 * (1,087 MB with 1,328 cached, 2,000 running); bench:memory's 0.25 MiB is a trigger that never polled.
 */
const CACHED_WORKFLOW_MIB = 0.6;

/**
 * Sizes the worker from its memory budget, so its RSS stays within it: as many workflows stay cached as fit
 * beside the base and the activities in flight; the rest are replayed from their (short) histories when they
 * wake. Activities are network-bound: many run at once.
 */
export function workerSizing(memoryMiB: number) {
  const cacheMiB = memoryMiB - BASE_MIB - ACTIVITIES_MIB;
  const maxCachedWorkflows = Math.max(20, Math.floor(cacheMiB / CACHED_WORKFLOW_MIB));
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

/**
 * How much older than the listing cache's age a release request's reads may be (its evaluation, retries): the
 * ledger keeps taken-along packages from moving back for that long, and take-along polls share no watcher
 * read older (PollDependencies.takeAlongLimitMs; their slot's room for two clocks aside).
 */
const KEEP_TAKEN_ALONG_SLACK_MS = 5 * 60_000;

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
  const watcherShards = options.watches ? (options.config.watcherShards ?? 0) : 0;
  const { watches } = options;
  const keepTakenAlongMs = options.config.pollCacheMs + KEEP_TAKEN_ALONG_SLACK_MS;
  const pollDependencies = {
    source,
    feeds: options.config.feeds,
    tagCache: new SingleFlightCache<PackageListing>(options.config.pollCacheMs),
    digestCache: new SingleFlightCache<string | null>(options.config.pollCacheMs),
    configCache: new SingleFlightCache<ImageConfig>(options.config.pollCacheMs),
    verdicts: options.ledger.verdicts,
    signatureKeys: options.config.signatureKeys,
    trustedRoots: options.config.trustedRoots,
    // Take-along polls share the package watcher's last read (see PollPackageInput.takeAlong), no older than
    // the ledger keeps taken-along packages from moving back for.
    ...(watches && watcherShards > 0
      ? {
          takeAlongLimitMs: keepTakenAlongMs,
          lastWatcherRead: (feed: string, pkg: string, release: { project: string; channel: string }) =>
            watches.lastRead(watchedPackageKey(feed, pkg), release.project, release.channel),
        }
      : {}),
    ...(options.listings
      ? {
          shared: {
            listings: options.listings,
            digests: options.digests,
            ttlMs: options.config.pollCacheMs,
          },
        }
      : {}),
  };
  const reader = createListingReader(pollDependencies);
  const polls = createPollActivities(pollDependencies, reader);
  const ledger = createLedgerActivities({
    watchers: watcherShards > 0,
    ledger: options.ledger,
    client: options.client,
    taskQueue: options.config.taskQueue,
    deliveryBackoff: options.deliveryBackoff,
    queueHistoryLimit: options.queueHistoryLimit,
    // A poll takes a listing up to the cache's age; an evaluation with its retries takes minutes at most.
    keepTakenAlongMs,
  });
  const activities = {
    ...polls,
    ...ledger,
    ...createChannelActivities({ loadChannel: ledger.loadChannel, pollPackage: polls.pollPackage }),
    // Registered on every worker: a watcher left from when watchers ran ends at its next check, and a
    // trigger that subscribed then is unsubscribed at its next evaluation.
    ...createWatcherActivities({
      watches: options.watches,
      shards: watcherShards,
      client: options.client,
      taskQueue: options.config.taskQueue,
      reader,
    }),
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
    ...createAnnounceActivities({ changes: options.changes }),
    ...options.extraActivities,
  };
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.config.taskQueue,
    activities,
    ...(options.identity ? { identity: options.identity } : {}),
    ...workerSizing(options.config.workerMemoryMiB ?? DEFAULT_WORKER_MEMORY_MIB),
    workflowBundle: options.workflowBundle ?? (await cachedWorkflowBundle()),
  });
  // What the SDK settled on, not what was asked: the cache warning (src/main.ts) reads the same.
  metrics.workflowCacheCapacity.set(worker.options.maxCachedWorkflows);
  countEvictions(worker, options.cacheFullEvictions);
  return worker;
}
