import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectTemporal, TemporalHandle } from '../../src/temporal/connect';

declare global {
  var __FEED_TRIGGERS_TEMPORAL__: TemporalHandle | undefined;
  var __FEED_TRIGGERS_RUN_DIR__: string | undefined;
}

/** One throwaway Temporal dev server and one workflow bundle for the whole test run. */
export default async function globalSetup(): Promise<void> {
  // Every temporary directory of the run (data dirs, registries, PostgreSQL, git servers) goes under one,
  // removed at the end: test files need not each remember to clean up, and a run leaves nothing in /tmp.
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-run-'));
  // Others may pass through it (PostgreSQL runs as its own user); what is inside is each test's to guard.
  chmodSync(runDir, 0o755);
  process.env.TMPDIR = runDir;
  globalThis.__FEED_TRIGGERS_RUN_DIR__ = runDir;
  // The CLI tests run the built `bin/feed-triggers.js`, as npx does: build first so they never test stale output.
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: path.resolve(__dirname, '../..'),
    stdio: 'inherit',
  });
  const temporal = await connectTemporal({
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
  globalThis.__FEED_TRIGGERS_TEMPORAL__ = temporal;
  // The service's own bundle cache (kept between runs while the code is unchanged): the services the tests
  // start find it there too, instead of each running webpack.
  const bundlePath = execFileSync(
    process.execPath,
    [path.resolve(__dirname, '../../dist/src/runtime/bundle-workflows.js')],
    {
      encoding: 'utf8',
    },
  ).trim();
  process.env.FEED_TRIGGERS_TEST_TEMPORAL_ADDRESS = temporal.address;
  process.env.FEED_TRIGGERS_TEST_NAMESPACE = temporal.namespace;
  process.env.FEED_TRIGGERS_TEST_BUNDLE = bundlePath;
}
