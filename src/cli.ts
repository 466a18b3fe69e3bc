// First: Node's compile cache is on before any other module of the service loads.
import './runtime/compile-cache';
import { runCli } from './cli/main';
import { keepFilesPrivate } from './db/open';

// Whatever the command writes (the embedded ledger of `token create`, the service's data) is this user's only.
keepFilesPrivate();

/** Entry point of `npx feed-triggers`. */
runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`feed-triggers: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
