import path from 'node:path';
import { parseArgs } from 'node:util';
import { measureTemporalOutage, OutageFigures } from '../test/support/outage';

/**
 * `npm run bench:recovery [-- --outage 130 --runs 3]`: the built service against a Temporal dev server
 * stopped for `--outage` seconds (130 by default: past the 120 s gRPC's default reconnect backoff grows
 * to, which RECONNECT_CHANNEL_ARGS must cut short), then started again on the same port and file. Prints, per run and as p50/max over the runs, the seconds from the server's return to the
 * first answer of each Temporal route, /readyz saying ready, each trigger's next poll and its release of
 * what was pushed during the outage.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { outage: { type: 'string', default: '130' }, runs: { type: 'string', default: '1' } },
  });
  const outageMs = Number(values.outage) * 1000;
  const runs = Number(values.runs);
  if (!(outageMs > 0) || !(runs >= 1)) throw new Error('--outage SECONDS and --runs N must be positive');
  const all: OutageFigures[] = [];
  for (let run = 1; run <= runs; run++) {
    const figures = await measureTemporalOutage({
      outageMs,
      mainJs: path.resolve(__dirname, '../src/main.js'),
      say: (line) => process.stderr.write(`run ${run}: ${line}\n`),
    });
    all.push(figures);
    process.stdout.write(`${JSON.stringify({ run, ...figures })}\n`);
  }
  const series: Record<string, number[]> = {};
  const add = (name: string, ms: number) => (series[name] ??= []).push(ms);
  for (const f of all) {
    for (const [route, { ms }] of Object.entries(f.routes)) add(`route ${route}`, ms);
    add('/readyz ready', f.readyzMs);
    for (const ms of Object.values(f.polls)) add('next poll (every trigger)', ms);
    for (const ms of Object.values(f.releases)) add('release of what was pushed (every trigger)', ms);
  }
  process.stdout.write(
    `\nafter a ${outageMs / 1000} s Temporal outage, ${runs} run(s): seconds from its return\n`,
  );
  for (const [name, values] of Object.entries(series)) {
    const sorted = [...values].sort((a, b) => a - b);
    const p50 = sorted[Math.floor((sorted.length - 1) / 2)];
    const max = sorted[sorted.length - 1];
    process.stdout.write(
      `  ${name.padEnd(48)} p50 ${(p50 / 1000).toFixed(1)}  max ${(max / 1000).toFixed(1)}\n`,
    );
  }
  const notReady = all.flatMap((f) => f.notReadyAfterReady);
  process.stdout.write(`  Temporal routes answering 5xx after /readyz said ready: ${notReady.length}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:recovery: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
