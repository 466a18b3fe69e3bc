import { NativeConnection, Worker, WorkflowBundleOption } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { createDeliveryActivities } from '../activities/deliver';
import { createPollActivities } from '../activities/poll';
import { createChannelActivities } from '../activities/channel';
import { createLedgerActivities, LedgerDependencies } from '../activities/ledger';
import { Ledger } from './db/ledger';
import { Config } from './config';
import { HttpClient } from './feeds/http';
import { CredentialStore, EcrTokenSource } from './feeds/credentials';
import { HelmRepositoryClient } from './feeds/helm';
import { ImageConfig, OciClient } from './feeds/oci';
import { PackageListing, PackageSource } from './feeds/package-source';
import { SingleFlightCache } from './feeds/single-flight';

export interface WorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  /** Activities start release workflows and destination queues through this client. */
  readonly client: Client;
  /** The system of record for projects, releases and deliveries. */
  readonly ledger: Ledger;
  /** Waits between delivery attempts while a destination is down (tests shorten them). */
  readonly deliveryBackoff?: LedgerDependencies['deliveryBackoff'];
  readonly queueHistoryLimit?: number;
  readonly config: Pick<Config, 'taskQueue' | 'feeds' | 'pollCacheMs' | 'secrets'> &
    Partial<Pick<Config, 'outbound'>>;
  /** A prebuilt bundle (tests build one for all workers); otherwise the workflows are bundled here. */
  readonly workflowBundle?: WorkflowBundleOption;
  /** Where ECR tokens come from (the AWS SDK unless a test stands in for ECR). */
  readonly ecrTokenSource?: EcrTokenSource;
  /** Replacements for activities by name (tests that stop a worker mid-activity). */
  readonly extraActivities?: Record<string, (...args: never[]) => Promise<unknown>>;
}

/** Builds the activities with their per-worker caches, and a worker for the trigger workflows. */
export async function createWorker(options: WorkerOptions): Promise<Worker> {
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
    ...options.extraActivities,
  };
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.config.taskQueue,
    activities,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
  });
}
