import { APPLY_USAGE, runApply } from './apply';
import { ApiError } from './api-client';
import { GET_USAGE, runGet } from './get';
import { RELEASE_USAGE, ReleaseCommand, runReleaseCommand } from './release-actions';
import { runTriggerCommand, TRIGGER_USAGE, TriggerCommand } from './trigger-actions';
import { RULES_USAGE, runRules } from './rules';
import { runToken, TOKEN_USAGE } from './token';
import { runValidate, VALIDATE_USAGE } from './validate';

import { HelpRequested, Refused, UsageError } from './usage';
import { roleUsage } from '../runtime/role-help';

const USAGE = [
  'usage: feed-triggers <command> [options]',
  '',
  'commands:',
  '  serve   run the worker and the API (what npm start runs)',
  '  worker  run a worker only (scale out: several on one task queue; needs TEMPORAL_ADDRESS, DATABASE_URL)',
  '  api     run the API only (needs TEMPORAL_ADDRESS, DATABASE_URL)',
  '  rules   preview a version rule over tags read from stdin',
  `          ${RULES_USAGE}`,
  '  apply   make projects and triggers match a file',
  `          ${APPLY_USAGE}`,
  '  validate  check a file as apply would (every error at once, feeds reached), changing nothing',
  `          ${VALIDATE_USAGE}`,
  '  get     show projects, triggers, releases (with their deployments) or environments (what is deployed where)',
  `          ${GET_USAGE}`,
  '  deploy  deploy (promote) a release to an environment, as its lifecycle allows',
  `          ${RELEASE_USAGE.deploy}`,
  '  approve / reject  decide a lifecycle phase of a release, with a comment',
  `          ${RELEASE_USAGE.approve}`,
  `          ${RELEASE_USAGE.reject}`,
  '  rollback  deploy an older release over a newer one (the API asks for --force)',
  `          ${RELEASE_USAGE.rollback}`,
  "  cancel  cancel a release's queued deployment to an environment",
  `          ${RELEASE_USAGE.cancel}`,
  "  pause / resume / poll  stop, restart or run now a trigger's polling",
  `          ${TRIGGER_USAGE.pause}`,
  `          ${TRIGGER_USAGE.resume}`,
  `          ${TRIGGER_USAGE.poll}`,
  '  token   create, list and revoke API tokens',
  `          ${TOKEN_USAGE}`,
  '  --version  the Node version the CLI runs on',
  '',
  'serve, worker and api read their environment: feed-triggers serve --help lists it.',
  '<command> --help explains each command and its exit codes: 0 done, 1 refused by the API or not found, 2 bad usage.',
  'apply, validate, get, token and the daily commands talk to the API at --api or FEED_TRIGGERS_API_URL (default http://127.0.0.1:8080)',
  'with the token in FEED_TRIGGERS_TOKEN. Without FEED_TRIGGERS_TOKEN, token works on the database itself',
  '(DATABASE_URL, or the embedded one in FEED_TRIGGERS_DATA_DIR while the service is stopped).',
].join('\n');

export interface CliIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

/** Runs the CLI; returns the exit code (2 for bad usage, 1 for failures). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  const out = (line: string) => io.stdout.write(`${line}\n`);
  try {
    switch (command) {
      case 'serve':
      case 'worker':
      case 'api':
        if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h')) {
          out(roleUsage(command));
          return 0;
        }
        // The service runs until Ctrl-C or SIGTERM, and exits itself.
        if (rest.length > 0) throw new UsageError(`${command} takes no arguments; it reads its environment`);
        await (await import('../main')).start(command);
        return 0;
      case 'rules':
        await runRules(rest, io.stdin, io.stdout);
        return 0;
      case 'apply':
        await runApply(rest, out, io.env, (line) => io.stderr.write(`${line}\n`), io.stdin);
        return 0;
      case 'validate':
        await runValidate(rest, out, io.env, (line) => io.stderr.write(`${line}\n`), io.stdin);
        return 0;
      case 'get':
        await runGet(rest, out, io.env);
        return 0;
      case 'token':
        await runToken(rest, out, io.env);
        return 0;
      case 'deploy':
      case 'rollback':
      case 'approve':
      case 'reject':
      case 'cancel':
        await runReleaseCommand(command satisfies ReleaseCommand, rest, out, io.env);
        return 0;
      case 'pause':
      case 'resume':
      case 'poll':
        await runTriggerCommand(command satisfies TriggerCommand, rest, out, io.env);
        return 0;
      case '--version':
        out(`feed-triggers on Node ${process.version}`);
        return 0;
      case '--help':
      case '-h':
      case 'help':
        out(USAGE);
        return 0;
      case undefined:
        io.stderr.write(`${USAGE}\n`);
        return 2;
      default:
        throw new UsageError(`unknown command "${command}"; try: feed-triggers --help`);
    }
  } catch (err) {
    if (err instanceof HelpRequested) {
      out(err.usage);
      return 0;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`feed-triggers: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(
      `feed-triggers: ${err instanceof ApiError || err instanceof Refused ? err.message : ((err as Error).stack ?? String(err))}\n`,
    );
    return 1;
  }
}
