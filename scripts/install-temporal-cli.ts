import { ensureTemporalCli, NO_CLI_MESSAGE } from '../src/temporal/cli';

/** Finds or builds the Temporal CLI (see src/temporal/cli.ts) and prints its path; CI runs this once. */
ensureTemporalCli()
  .then((cli) => {
    if (!cli) {
      process.stdout.write(
        "No local Temporal CLI; one is downloaded from Temporal's CDN on first start (needs internet).\n",
      );
      return;
    }
    process.stdout.write(`Temporal CLI: ${cli}\n`);
  })
  .catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n${NO_CLI_MESSAGE}\n`);
    process.exit(2);
  });
