import { DEFAULT_DELIVERY_BACKOFF } from '../../activities/ledger';
import {
  DestinationHook,
  destinationProject,
  hookDeliveries,
  recordRelease,
  startDestinationHook,
} from '../support/deliveries';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * A destination back from an outage, delivered to on the service's own backoff (not a test's short one). In
 * a file of its own: the outage is 35 s of waiting, which the other files' tests overlap.
 */
let env: TestWorkerEnv;
let hook: DestinationHook;
// Only data in the release: nothing is listed.
const FEED = 'registry.delivery-outage.test';

beforeAll(async () => {
  hook = await startDestinationHook();
  env = await startTestWorker({ deliveryBackoff: DEFAULT_DELIVERY_BACKOFF });
});

afterAll(async () => {
  await env?.stop();
  await hook?.close();
});

test('a destination back from a 35 s outage gets its delivery within 15 s, with the service’s own backoff', async () => {
  hook.down.add('recover');
  await destinationProject(env, { feed: FEED, hook, name: 'recover', order: 'every' });
  await recordRelease(env, { feed: FEED, project: 'recover', tag: '1.0.0' });
  await new Promise((r) => setTimeout(r, 35_000));
  expect(hook.received('recover').length).toBeGreaterThanOrEqual(3);
  const back = Date.now();
  hook.down.delete('recover');
  const at = await eventually(
    async () => {
      const d = (await hookDeliveries(env, 'recover'))['0.0.1'];
      return d.status === 'delivered' ? Date.now() : undefined;
    },
    'delivered after the outage',
    30_000,
  );
  const seconds = (at - back) / 1000;
  console.log(`destination back after a 35 s outage: first delivery ${seconds.toFixed(1)} s later`);
  expect(seconds).toBeLessThan(15);
}, 90_000);
