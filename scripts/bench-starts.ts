import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { connectTemporal, EMBEDDED_DEV_SERVER } from '../src/temporal/connect';
import { startTrigger } from '../workflows/contracts/client';
import type { TriggerChannelView } from '../src/domain/trigger';
import { TriggerSpecSchema } from '../src/domain/trigger-schema';
import { startPostgres } from '../test/support/postgres';
import { postgresCpu } from './proc-cpu';
import { startProductionTemporal } from './production-temporal';

/**
 * `npm run bench:starts [-- --starts N --concurrency C --rounds R]`: what the embedded dev server (the one
 * `npm start` runs, SQLite in write-ahead-log mode) costs per trigger created, with nothing else on the box:
 * N trigger workflows started exactly as the API starts them (`startTrigger`), on a task queue no worker
 * polls. The figure is the start alone: its history, its visibility record and its first workflow task
 * scheduled (kept in the queue's backlog, as a busy worker's are during a large apply), not that task's run
 * nor anything after. Prints starts per second and the server's CPU per start: the floor under `apply -f` of
 * many triggers, which also pays the API, the worker and the ledger on the same cores.
 *
 * `--temporal production [--history-shards N]` measures Temporal's own server instead (v1.29.1, all services in
 * one process, on a PostgreSQL of the bench's own, as `bench:scale --temporal production` runs it); its CPU per
 * start then counts the server and PostgreSQL together.
 */
const { values } = parseArgs({
  options: {
    starts: { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    temporal: { type: 'string', default: 'dev' },
    'history-shards': { type: 'string', default: '4' },
  },
});

function whole(
  name: 'starts' | 'concurrency' | 'rounds' | 'history-shards',
  min: number,
  max: number,
): number {
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
if (values.temporal !== 'dev' && values.temporal !== 'production') {
  process.stderr.write('--temporal: dev or production\n');
  process.exit(2);
}
/** `production`: Temporal's own server on a PostgreSQL of the bench's, as `bench:scale --temporal production`. */
const PRODUCTION = values.temporal === 'production';
const HISTORY_SHARDS = whole('history-shards', 1, 1024);

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

/** The round's Temporal server: its client connection, its CPU seconds so far (PostgreSQL's too), its stop. */
interface Server {
  readonly connection: Connection;
  cpu(): number;
  close(): Promise<void>;
}

async function startServer(dir: string): Promise<Server> {
  if (!PRODUCTION) {
    const temporal = await connectTemporal(EMBEDDED_DEV_SERVER, { dbFile: path.join(dir, 'temporal.db') });
    const pid = temporal.devServerPid!;
    return { connection: temporal.connection, cpu: () => cpuSeconds(pid), close: () => temporal.close() };
  }
  const postgres = await startPostgres();
  try {
    const temporal = await startProductionTemporal({
      postgresUrl: postgres.url,
      dir,
      historyShards: HISTORY_SHARDS,
    });
    const connection = await Connection.connect({ address: temporal.address });
    const pgPort = new URL(postgres.url).port;
    return {
      connection,
      cpu: () => cpuSeconds(temporal.process.pid!) + postgresCpu(pgPort),
      async close() {
        await connection.close();
        await temporal.stop();
        await postgres.stop();
      },
    };
  } catch (err) {
    await postgres.stop();
    throw err;
  }
}

async function round(k: number): Promise<{ perSecond: number; cpuMs: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-starts-'));
  const server = await startServer(dir);
  cleanUp = async () => {
    cleanUp = null;
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const client = new Client({ connection: server.connection, namespace: 'default' });
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
    const cpu0 = server.cpu();
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
    const cpuMs = ((server.cpu() - cpu0) / STARTS) * 1000;
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
