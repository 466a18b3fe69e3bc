import { parseArgs, ParseArgsConfig } from 'node:util';

/** A bad command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  readonly code = 'USAGE';
}

/** Turned down by the CLI or the API's answer (a paused trigger asked to poll, a poll that failed): exit code 1. */
export class Refused extends Error {
  readonly code = 'REFUSED';
}

/** `--help` or `-h` on a command: its usage goes to stdout and the CLI exits 0. */
export class HelpRequested extends Error {
  readonly code = 'HELP';
  constructor(readonly usage: string) {
    super(usage);
  }
}

/**
 * A count typed on the command line: plain decimal digits, else NaN (which every range check refuses).
 * Number() would also take `0x10`, `1e3`, ` 7 ` and a blank as 0, as the environment's counts no longer do.
 */
export function decimalCount(text: string): number {
  return /^\d{1,9}$/.test(text) ? Number(text) : NaN;
}

/**
 * node:util's parseArgs (strict by default), its errors turned into one-line UsageErrors. A string option's
 * value may start with `-` (`--exclude -debug$` reads like `--exclude=-debug$`), and `--help` anywhere asks
 * for the command's usage.
 */
export function parseCommandLine<T extends ParseArgsConfig>(
  config: T,
  usage: string,
): ReturnType<typeof parseArgs<T>> {
  const args = config.args ?? [];
  const stringOptions = new Set<string>();
  for (const [name, option] of Object.entries(config.options ?? {})) {
    if (option.type !== 'string') continue;
    stringOptions.add(`--${name}`);
    if (option.short) stringOptions.add(`-${option.short}`);
  }
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      joined.push(...args.slice(i));
      break;
    }
    if (arg === '--help' || arg === '-h') throw new HelpRequested(usage);
    // A string option takes the next argument as its value, even one starting with a dash.
    if (stringOptions.has(arg) && i + 1 < args.length && args[i + 1].startsWith('-')) {
      // `--name=value`, and for a short option `-xvalue`: parseArgs reads either as one option with its value.
      joined.push(arg.startsWith('--') ? `${arg}=${args[i + 1]}` : `${arg}${args[i + 1]}`);
      i++;
      continue;
    }
    joined.push(arg);
  }
  try {
    // strict by default: unknown options are errors
    return parseArgs({ ...config, args: joined }) as ReturnType<typeof parseArgs<T>>;
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
}
