/**
 * `npm run bench:startup-cpu` (kept out of `npm test`). What an integration file costs in CPU before its
 * first test: loading the service's modules (jest gives every test file a fresh module registry, so this is
 * paid again by each file) and starting a Temporal worker, an API and a registry. Prints CPU milliseconds
 * (user + system of this process and its threads; the registry's own process is not counted), the median of
 * the rounds for the starts. CPU, not wall time: the box is shared.
 */
const before = process.cpuUsage();
/* eslint-disable @typescript-eslint/no-require-imports -- the loading is what is measured */
const { startTestWorker } = require('../support/temporal') as typeof import('../support/temporal');
const { startApi } = require('../support/api') as typeof import('../support/api');
const { TestRegistry } = require('../support/registry') as typeof import('../support/registry');
/* eslint-enable @typescript-eslint/no-require-imports */
const loading = process.cpuUsage(before);

const ROUNDS = Number(process.env.STARTUP_ROUNDS ?? 5);

const cpuMs = (d: NodeJS.CpuUsage) => Math.round((d.user + d.system) / 1000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function cpuOf<T>(what: () => Promise<T>): Promise<[T, number]> {
  const start = process.cpuUsage();
  const value = await what();
  return [value, cpuMs(process.cpuUsage(start))];
}

test(`the CPU an integration file spends before its first test (${ROUNDS} rounds)`, async () => {
  const spent: Record<'registry' | 'worker' | 'api' | 'stop', number[]> = {
    registry: [],
    worker: [],
    api: [],
    stop: [],
  };
  for (let round = 0; round < ROUNDS; round++) {
    const [registry, registryMs] = await cpuOf(() => TestRegistry.start());
    const [env, workerMs] = await cpuOf(() => startTestWorker());
    const [api, apiMs] = await cpuOf(() => startApi(env));
    const [, stopMs] = await cpuOf(async () => {
      await api.close();
      await env.stop();
      await registry.stop();
    });
    spent.registry.push(registryMs);
    spent.worker.push(workerMs);
    spent.api.push(apiMs);
    spent.stop.push(stopMs);
  }
  const lines = [
    `loading the modules: ${cpuMs(loading)} ms CPU`,
    ...Object.entries(spent).map(
      ([what, ms]) => `${what}: median ${median(ms)} ms CPU (first ${ms[0]}, all ${ms.join(' ')})`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  expect(spent.worker).toHaveLength(ROUNDS);
});
