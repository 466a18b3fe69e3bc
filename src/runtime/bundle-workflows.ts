import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cachedWorkflowBundle, workflowBundleOptions } from './workflow-bundle';

/**
 * `node dist/src/runtime/bundle-workflows.js [FILE]`: bundles the workflows into FILE (written whole or not at
 * all), in a process of its own so that the worker never keeps webpack's memory. Without FILE it fills
 * the cache `cachedWorkflowBundle` reads (what `npm run build` does) and prints the bundle's path.
 */
async function main(target: string | undefined): Promise<void> {
  if (!target) {
    const bundle = await cachedWorkflowBundle();
    if (!('codePath' in bundle))
      throw new Error(`${path.resolve(__dirname, '..', '..')} is not writable: no bundle cached`);
    process.stdout.write(`${bundle.codePath}\n`);
    return;
  }
  // Loaded here only: a cache hit needs no bundler.
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({
    ...workflowBundleOptions(),
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: (message: string) => process.stderr.write(`bundle: ${message}\n`),
      error: (message: string) => process.stderr.write(`bundle: ${message}\n`),
    },
  });
  // Another process may read the cache at any moment: it sees the old file, no file or the whole new one.
  const partial = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}`);
  writeFileSync(partial, code);
  renameSync(partial, target);
}

main(process.argv[2]).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
