import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@temporalio/client';
import { connectTemporal, EMBEDDED_DEV_SERVER } from '../src/temporal/connect';
import { startTrigger } from '../workflows/contracts/client';
import type { TriggerChannelView } from '../src/domain/trigger';
import { TriggerSpecSchema } from '../src/domain/trigger-schema';

/**
 * `npm run bench:starts [-- --starts N --concurrency C --rounds R]`: what the embedded dev server (the one
 * `npm start` runs, SQLite in write-ahead-log mode) costs per trigger created, with nothing else on the box:
 * N trigger workflows started exactly as the API starts them (`startTrigger`), on a task queue no worker
 * polls. The figure is the start alone: its history, its visibility record and its first workflow task
 * scheduled (kept in the queue's backlog, as a busy worker's are during a large apply), not that task's run
 * nor anything after. Prints starts per second and the server's CPU per start: the floor under `apply -f` of
 * many triggers, which also pays the API, the worker and the ledger on the same cores.
 */
const { values } = parseArgs({
  options: {
    starts: { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
  },
});

function whole(name: 'starts' | 'concurrency' | 'rounds', min: number, max: number): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`--${name}: a whole number from ${min} to ${max}\n`);
    process.exit(2);
  }
  return n;
}
const STARTS = whole('starts', 1, 100_000);
const CONCURRENCY = whole('concurrency', 1, 1024);
const ROUNDS = whole('rounds', 1, 20);

/** CPU seconds (user + system) of a process, from /proc (clock ticks of 1/100 s, Linux's USER_HZ). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(stat[11]) + Number(stat[12])) / 100;
}

/** The round's server and folder, stopped and removed on Ctrl-C or kill too (not only at the round's end). */
let cleanUp: (() => Promise<void>) | null = null;
/** Set by a signal: the starts that fail as the server goes are not the bench's failure. */
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    stopping = true;
    void (cleanUp ?? (async () => undefined))().finally(() => process.exit(130));
  });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function round(k: number): Promise<{ perSecond: number; cpuMs: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-starts-'));
  const temporal = await connectTemporal(EMBEDDED_DEV_SERVER, { dbFile: path.join(dir, 'temporal.db') });
  cleanUp = async () => {
    cleanUp = null;
    await temporal.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const client = new Client({ connection: temporal.connection, namespace: temporal.namespace });
    const pid = temporal.devServerPid!;
    const view: TriggerChannelView = {
      revision: 1,
      packages: [
        { name: 'app0', feed: 'registry.example', package: 'bench/app0' },
        { name: 'app1', feed: 'registry.example', package: 'bench/app1' },
      ],
      rules: [],
      lastRelease: null,
    };
    // The server settles after its start (namespace, search attributes) before the clock starts.
    await new Promise((r) => setTimeout(r, 2000));
    const cpu0 = cpuSeconds(pid);
    const t0 = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < STARTS) {
          const i = next++;
          const spec = TriggerSpecSchema.parse({
            project: `b${i}`,
            name: 't0',
            watch: ['app0'],
            intervalSeconds: 60,
          });
          await startTrigger(client, 'no-worker', {
            spec,
            view,
            packages: ['registry.example/bench/app0'],
            firstPoll: 'slot',
          });
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpuMs = ((cpuSeconds(pid) - cpu0) / STARTS) * 1000;
    const perSecond = STARTS / seconds;
    process.stdout.write(
      `round ${k}: ${STARTS} starts in ${seconds.toFixed(1)} s (${perSecond.toFixed(0)}/s), ` +
        `server CPU ${cpuMs.toFixed(2)} ms per start\n`,
    );
    return { perSecond, cpuMs };
  } finally {
    await cleanUp?.();
  }
}

async function main(): Promise<void> {
  const results = [];
  for (let k = 1; k <= ROUNDS; k++) results.push(await round(k));
  const perSecond = median(results.map((r) => r.perSecond));
  const cpuMs = median(results.map((r) => r.cpuMs));
  process.stdout.write(
    `median of ${ROUNDS}: ${perSecond.toFixed(0)} starts/s, ${cpuMs.toFixed(2)} ms of server CPU per start; ` +
      `20,000 triggers at that rate: ${(20_000 / perSecond).toFixed(0)} s of starts alone, ` +
      `${((20_000 * cpuMs) / 1000).toFixed(0)} s of server CPU\n`,
  );
}

main().catch((err: unknown) => {
  if (stopping) return;
  process.stderr.write(`bench:starts failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
