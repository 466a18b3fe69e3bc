/** Stops the test run's Temporal dev server. */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__FEED_TRIGGERS_TEMPORAL__?.close();
}
