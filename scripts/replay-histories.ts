import { cachedWorkflowBundle } from '../src/runtime/workflow-bundle';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';

/**
 * `node dist/scripts/replay-histories.js [FIXTURES_DIR] [BUNDLE]`: replays every recorded history with
 * today's workflow code and exits 1 on the first nondeterminism. Runs outside jest, whose module
 * registry splits protobufjs and breaks history decoding. package.json declares protobufjs 8 though nothing
 * imports it, for the same reason: without it npm hoists grpc's protobufjs 7 and gives @temporalio/common,
 * proto and worker a private copy of 8 each.
 */
async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '../../test/fixtures/histories'));
  const bundle = process.argv[3];
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no histories in ${dir}`);
  // The bundle the service runs (with its preloaded modules), unless one is given.
  const workflowBundle = bundle ? { codePath: bundle } : await cachedWorkflowBundle();
  for (const file of files) {
    const history = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    await Worker.runReplayHistory({ workflowBundle }, history, `replay-${file}`);
    process.stdout.write(`replayed ${file}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`replay failed: ${(err as Error).name}: ${(err as Error).message}\n`);
  process.exit(1);
});
