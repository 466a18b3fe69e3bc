import { runCli } from './cli/main';

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
