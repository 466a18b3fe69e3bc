import { parseArgs, ParseArgsConfig } from 'node:util';

/** A bad command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  readonly code = 'USAGE';
}

/** node:util's parseArgs (strict by default), its errors turned into one-line UsageErrors. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config); // strict by default: unknown options are errors
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
}
