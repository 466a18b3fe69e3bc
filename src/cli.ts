import { RULES_USAGE, runRules } from './cli/rules';
import { UsageError } from './cli/usage';

const USAGE = [
  'usage: feed-triggers <command> [options]',
  '',
  'commands:',
  `  rules   preview a version rule over tags read from stdin`,
  `          ${RULES_USAGE}`,
].join('\n');

/** Entry point of `npx feed-triggers`. */
async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'rules':
      return runRules(rest, process.stdin, process.stdout);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      if (command === undefined) process.exitCode = 2;
      return;
    default:
      throw new UsageError(`unknown command "${command}"; try: feed-triggers --help`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`feed-triggers: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`feed-triggers: ${(err as Error).message}\n`);
  process.exit(1);
});
