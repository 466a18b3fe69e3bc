import {
  DestinationHook,
  destinationProject,
  hookDeliveries,
  recordRelease,
  startDestinationHook,
} from '../support/deliveries';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * A destination down for hundreds of attempts: the queue continues as new, and no history grows past a fixed
 * size. In a file of its own: the attempts take a quarter of a minute of waiting, which the other files' tests
 * overlap.
 */
let env: TestWorkerEnv;
let hook: DestinationHook;
const HISTORY_LIMIT = 50;
// Only data in the release: nothing is listed.
const FEED = 'registry.delivery-history.test';

beforeAll(async () => {
  hook = await startDestinationHook();
  env = await startTestWorker({
    // Short waits between attempts, twenty attempts per activity and a low history limit, so hundreds of
    // attempts and several continue-as-new fit in a test: each activity's round costs a timer (Temporal's
    // timers fire at ~1 s granularity) and a few workflow tasks, so the fewer rounds, the shorter the test.
    deliveryBackoff: { initialMs: 5, maxMs: 20, quickTries: 20 },
    queueHistoryLimit: HISTORY_LIMIT,
  });
});

afterAll(async () => {
  await env?.stop();
  await hook?.close();
});

test('a destination down for hundreds of attempts keeps every history under a fixed size', async () => {
  hook.up = false;
  await destinationProject(env, { feed: FEED, hook, name: 'down', order: 'every' });
  await recordRelease(env, { feed: FEED, project: 'down', tag: '1.0.0' });
  await eventually(
    async () => ((await hookDeliveries(env, 'down'))['0.0.1'].attempts >= 200 ? true : undefined),
    '200 attempts',
    120_000,
  );
  const runs: number[] = [];
  for await (const wf of env.client.workflow.list({ query: `WorkflowId = 'destination/down/hook'` })) {
    const history = await env.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    runs.push(history.events!.length);
  }
  expect(runs.length).toBeGreaterThan(2); // it continued as new
  for (const events of runs) expect(events).toBeLessThanOrEqual(HISTORY_LIMIT + 20);
  const releaseHistory = await env.client.workflow.getHandle('release/down/0.0.1').fetchHistory();
  expect(releaseHistory.events!.length).toBeLessThan(20);
  hook.up = true;
  const delivered = await eventually(async () => {
    const d = (await hookDeliveries(env, 'down'))['0.0.1'];
    return d.status === 'delivered' ? d : undefined;
  }, 'delivered at last');
  expect(delivered.attempts).toBe(hook.received('down').length);
}, 180_000);
