import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { connectTemporal, EMBEDDED_DEV_SERVER } from '../src/temporal/connect';
import { cachedWorkflowBundle } from '../src/runtime/workflow-bundle';
import { FailureCode } from '../src/domain/failures';
import type { trigger } from '../workflows';

/**
 * `npm run bench:memory`: what one cached trigger costs the worker. Starts an embedded dev server and a worker
 * with a cache larger than the run, starts N triggers whose project does not exist (each polls once, records
 * the error and sleeps, so it stays cached), and reads the process's RSS before and after (in a child process).
 */
const { values } = parseArgs({
  options: {
    workflows: { type: 'string', default: '1000' },
    /** Internal: the worker's cache size (default: all of them). */
    cache: { type: 'string' },
    /** Internal: run one configuration in this process. */
    child: { type: 'string' },
  },
});
const N = Number(values.workflows);
const say = (line: string) => process.stdout.write(`${line}\n`);
const mib = (b: number) => b / 1024 / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-bench-memory-'));
  const temporal = await connectTemporal(EMBEDDED_DEV_SERVER, { dbFile: path.join(dir, 't.db') });
  try {
    // The service's own bundle (preloads included), made by `npm run build`: this process never loads webpack.
    const workflowBundle = await cachedWorkflowBundle();
    let polls = 0;
    const missing = () => {
      polls++;
      throw ApplicationFailure.nonRetryable('no project bench', FailureCode.PROJECT_NOT_FOUND);
    };
    const taskQueue = `bench-memory-${process.pid}`;
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundle,
      maxCachedWorkflows: values.cache ? Number(values.cache) : N + 100,
      activities: { pollChannel: missing, loadChannel: missing },
    });
    const running = worker.run();
    const client = new Client({ connection: temporal.connection, namespace: temporal.namespace });
    const start = async (from: number, to: number) => {
      const ids = Array.from({ length: to - from }, (_, i) => from + i);
      for (let i = 0; i < ids.length; i += 50)
        await Promise.all(
          ids.slice(i, i + 50).map((k) =>
            client.workflow.start<typeof trigger>('trigger', {
              taskQueue,
              workflowId: `trigger/bench/t${k}`,
              args: [
                { spec: { project: 'bench', name: `t${k}`, channel: 'default', intervalSeconds: 3600 } },
              ],
            }),
          ),
        );
      while (polls < to) await sleep(200);
      await sleep(2000);
    };
    const sample = () => {
      global.gc?.();
      return process.memoryUsage();
    };
    // A few triggers first, so the workflow thread, its bundle and the shared modules are loaded.
    await start(0, 20);
    const before = sample();
    await start(20, N);
    const after = sample();
    say(
      JSON.stringify({
        workflows: N - 20,
        rssBeforeMiB: mib(before.rss),
        rssAfterMiB: mib(after.rss),
        mainHeapMiB: [mib(before.heapUsed), mib(after.heapUsed)],
        externalMiB: [mib(before.external), mib(after.external)],
        perWorkflowKiB: ((after.rss - before.rss) / (N - 20) / 1024).toFixed(0),
      }),
    );
    worker.shutdown();
    await running;
  } finally {
    await temporal.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (values.child !== undefined) return measure();
  // In a child process of its own, so nothing this process loaded counts.
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', __filename, '--child', 'run', '--workflows', String(N)],
    { encoding: 'utf8' },
  );
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as {
    workflows: number;
    rssBeforeMiB: number;
    rssAfterMiB: number;
    perWorkflowKiB: string;
  };
  say(`| cached triggers | worker RSS before / after | per cached trigger |`);
  say(`| --- | --- | --- |`);
  say(
    `| ${r.workflows} | ${r.rssBeforeMiB.toFixed(0)} / ${r.rssAfterMiB.toFixed(0)} MiB | ${r.perWorkflowKiB} KiB |`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
