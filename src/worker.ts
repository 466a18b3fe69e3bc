import { NativeConnection, Worker, WorkflowBundleOption } from '@temporalio/worker';
import { createPollActivities } from '../activities';
import { Config } from './config';
import { HttpClient } from './feeds/http';
import { OciClient, TagListing } from './feeds/oci';
import { SingleFlightCache } from './feeds/single-flight';

export interface WorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly config: Pick<Config, 'taskQueue' | 'feeds' | 'pollCacheMs'>;
  /** A prebuilt bundle (tests build one for all workers); otherwise the workflows are bundled here. */
  readonly workflowBundle?: WorkflowBundleOption;
}

/** Builds the activities with their per-worker caches, and a worker for the trigger workflows. */
export async function createWorker(options: WorkerOptions): Promise<Worker> {
  const http = new HttpClient();
  const activities = createPollActivities({
    oci: new OciClient(http),
    feeds: options.config.feeds,
    tagCache: new SingleFlightCache<TagListing>(options.config.pollCacheMs),
    digestCache: new SingleFlightCache<string>(options.config.pollCacheMs),
  });
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
