import { rmSync } from 'node:fs';

/** Stops the test run's Temporal dev server and PostgreSQL server, and removes the run's temporary directory. */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__FEED_TRIGGERS_TEMPORAL__?.close();
  await globalThis.__FEED_TRIGGERS_POSTGRES__?.stop();
  const runDir = globalThis.__FEED_TRIGGERS_RUN_DIR__;
  if (runDir) rmSync(runDir, { recursive: true, force: true });
}
