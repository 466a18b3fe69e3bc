import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connectTemporal, TemporalHandle } from '../../src/temporal/connect';
import { makeEmbeddedLedgerTemplate, startLedgerServer } from './database';
import type { TestPostgres } from './postgres';

const execFileAsync = promisify(execFile);

declare global {
  var __FEED_TRIGGERS_TEMPORAL__: TemporalHandle | undefined;
  var __FEED_TRIGGERS_RUN_DIR__: string | undefined;
  var __FEED_TRIGGERS_POSTGRES__: TestPostgres | undefined;
}

/** One throwaway Temporal dev server, one PostgreSQL server and one workflow bundle for the whole test run. */
export default async function globalSetup(): Promise<void> {
  // Every temporary directory of the run (data dirs, registries, PostgreSQL, git servers) goes under one,
  // removed at the end: test files need not each remember to clean up, and a run leaves nothing in /tmp.
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-run-'));
  // Others may pass through it (PostgreSQL runs as its own user); what is inside is each test's to guard.
  chmodSync(runDir, 0o755);
  process.env.TMPDIR = runDir;
  globalThis.__FEED_TRIGGERS_RUN_DIR__ = runDir;
  // The CLI tests run the built `bin/feed-triggers.js`, as npx does: build first so they never test stale
  // output. Incremental (`tsc -b`, as `npm run build`): unchanged sources cost a check, not a compile; the
  // outputs of deleted sources go first, as in `npm run build`, since tsc leaves them and Node may load them.
  execFileSync(process.execPath, [path.resolve(__dirname, '../../bin/prune-dist.js')], { stdio: 'inherit' });
  const build = execFileAsync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-b', 'tsconfig.build.json'],
    {
      cwd: path.resolve(__dirname, '../..'),
    },
  ).catch((err: { stdout?: string; stderr?: string }) => {
    throw new Error(`the build failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  });
  // The servers start while tsc runs: they need none of its output.
  const postgres = startLedgerServer();
  const temporal = connectTemporal({
    address: process.env.TEMPORAL_ADDRESS ?? null,
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    apiKey: null,
    tls: false,
    devServerPort: 0,
    uiPort: 0,
    metricsPort: 0,
    httpPort: 0,
    cliPath: null,
  });
  // The embedded ledger the tests copy for the services they start needs the build's output.
  const embedded = build.then(() => makeEmbeddedLedgerTemplate(path.join(runDir, 'embedded-ledger')));
  // The console as `npm run build` makes it, once for the run's browser tests (about 1.7 s of CPU even when
  // unchanged: it regenerates the API's types to compare them).
  const consoleBuild = build.then(() =>
    execFileAsync(process.execPath, [path.resolve(__dirname, '../../dist/scripts/build-console.js')]).catch(
      (err: { stdout?: string; stderr?: string }) => {
        throw new Error(`the console's build failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
      },
    ),
  );
  const started = await Promise.allSettled([embedded, postgres, temporal, consoleBuild]);
  if (started[1].status === 'fulfilled') globalThis.__FEED_TRIGGERS_POSTGRES__ = started[1].value;
  if (started[2].status === 'fulfilled') globalThis.__FEED_TRIGGERS_TEMPORAL__ = started[2].value;
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  // A setup that fails leaves nothing running.
  if (failed) {
    await globalThis.__FEED_TRIGGERS_TEMPORAL__?.close();
    await globalThis.__FEED_TRIGGERS_POSTGRES__?.stop();
    throw failed.reason;
  }
  const temporalHandle = globalThis.__FEED_TRIGGERS_TEMPORAL__!;
  // The service's own bundle cache (kept between runs while the code is unchanged): the services the tests
  // start find it there too, instead of each running webpack.
  const bundlePath = execFileSync(
    process.execPath,
    [path.resolve(__dirname, '../../dist/src/runtime/bundle-workflows.js')],
    {
      encoding: 'utf8',
    },
  ).trim();
  process.env.FEED_TRIGGERS_TEST_TEMPORAL_ADDRESS = temporalHandle.address;
  process.env.FEED_TRIGGERS_TEST_NAMESPACE = temporalHandle.namespace;
  process.env.FEED_TRIGGERS_TEST_DATABASE_URL = globalThis.__FEED_TRIGGERS_POSTGRES__!.url;
  process.env.FEED_TRIGGERS_TEST_BUNDLE = bundlePath;
}
