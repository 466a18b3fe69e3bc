import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { connectTemporal, TemporalHandle } from '../../src/temporal/connect';
import { workflowBundleOptions } from '../../src/workflow-bundle';

declare global {
  var __FEED_TRIGGERS_TEMPORAL__: TemporalHandle | undefined;
}

/** One throwaway Temporal dev server and one workflow bundle for the whole test run. */
export default async function globalSetup(): Promise<void> {
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
    cliPath: null,
  });
  globalThis.__FEED_TRIGGERS_TEMPORAL__ = temporal;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-test-'));
  const { code } = await bundleWorkflowCode({ ...workflowBundleOptions(), logger: quietLogger });
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);
  process.env.FEED_TRIGGERS_TEST_TEMPORAL_ADDRESS = temporal.address;
  process.env.FEED_TRIGGERS_TEST_NAMESPACE = temporal.namespace;
  process.env.FEED_TRIGGERS_TEST_BUNDLE = bundlePath;
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => process.stderr.write(`bundle: ${message}\n`),
  error: (message: string) => process.stderr.write(`bundle: ${message}\n`),
};
