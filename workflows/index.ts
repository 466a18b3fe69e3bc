import type { WorkflowContracts } from './contracts/workflows';
import { trigger } from './trigger';
import { release } from './release';
import { destinationQueue } from './destination';
import { channelPreview, manualRelease } from './manual-release';
import { environmentQueue } from './environment';
import { watcher } from './watcher';
import { retention } from './retention';

// The worker registers every function exported here as a workflow type, by its exported name.
export {
  trigger,
  release,
  destinationQueue,
  manualRelease,
  channelPreview,
  environmentQueue,
  watcher,
  retention,
};

/** Fails to compile when a workflow's signature drifts from the contract its clients start it with. */
export type Implemented = Conforms<{
  trigger: typeof trigger;
  release: typeof release;
  destinationQueue: typeof destinationQueue;
  environmentQueue: typeof environmentQueue;
  manualRelease: typeof manualRelease;
  channelPreview: typeof channelPreview;
  watcher: typeof watcher;
  retention: typeof retention;
}>;
type Conforms<T extends WorkflowContracts> = T;
