import type { TriggerState } from '../domain/trigger';
import { ApiClient, pathSegment } from './api-client';
import { printable } from './printable';
import { parseCommandLine, Refused, UsageError } from './usage';

export type TriggerCommand = 'pause' | 'resume' | 'poll';

/** One line each, for `feed-triggers --help`. */
export const TRIGGER_USAGE: Record<TriggerCommand, string> = {
  pause: 'usage: feed-triggers pause PROJECT TRIGGER [--wait SECONDS] [--api URL]',
  resume: 'usage: feed-triggers resume PROJECT TRIGGER [--wait SECONDS] [--api URL]',
  poll: 'usage: feed-triggers poll PROJECT TRIGGER [--wait SECONDS] [--api URL]',
};

const TRIGGER_HELP: Record<TriggerCommand, string> = {
  pause: 'Pauses a trigger: it polls no more, and notifications for its packages wait, until it is resumed.',
  resume: 'Resumes a paused trigger; it polls its feeds afresh at once.',
  poll: 'Asks a trigger to poll its feeds now, and prints what the poll did (released, nothing new, error).',
};

const WAIT_HELP = [
  '  --wait SECONDS   how long to wait for the trigger to show the change (default 30; 0: do not wait)',
  '',
  'exit codes: 0 done, 1 refused by the API or not found (also: a poll that failed, a paused trigger asked',
  'to poll), 2 bad usage',
].join('\n');

/** `feed-triggers <command> --help`: the usage line, what the command does, its options and exit codes. */
export function triggerHelp(command: TriggerCommand): string {
  return [TRIGGER_USAGE[command], '', TRIGGER_HELP[command], '', WAIT_HELP].join('\n');
}

/** What `pause`, `resume` or `poll` asks for, parsed before anything is sent. */
export interface TriggerRequest {
  readonly project: string;
  readonly trigger: string;
  /** `/triggers/{project}/{trigger}`, each part encoded. */
  readonly path: string;
  readonly waitMs: number;
  readonly api?: string;
}

/** Parses the command line of `pause`, `resume` or `poll`; a bad one is a UsageError and nothing is sent. */
export function triggerRequest(command: TriggerCommand, args: string[]): TriggerRequest {
  const { values, positionals } = parseCommandLine(
    {
      args,
      allowPositionals: true,
      options: { wait: { type: 'string' }, api: { type: 'string' } },
    },
    triggerHelp(command),
  );
  if (positionals.length !== 2)
    throw new UsageError(
      `${command} takes 2 arguments, not ${positionals.length}; ${TRIGGER_USAGE[command]}`,
    );
  const [project, trigger] = positionals;
  const wait = values.wait === undefined ? 30 : Number(values.wait);
  if (!/^\d+$/.test(values.wait ?? '30') || wait > 600)
    throw new UsageError('--wait: a whole number of seconds from 0 to 600');
  return {
    project,
    trigger,
    path: `/triggers/${pathSegment(project, 'PROJECT')}/${pathSegment(trigger, 'TRIGGER')}`,
    waitMs: wait * 1000,
    api: values.api,
  };
}

type TriggerView = TriggerState & { status: string };

/** How often the state is read while waiting: a signal is usually acted on within a workflow task. */
const STATE_READ_EVERY_MS = 250;

/**
 * `pause`, `resume`, `poll`: a signal to the trigger, then (for up to --wait seconds) its state read until it
 * shows the change, so the line printed says what happened rather than what was asked. A poll that ends in
 * an error is exit code 1, its reason on stderr.
 */
export async function runTriggerCommand(
  command: TriggerCommand,
  args: string[],
  out: (line: string) => void,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const request = triggerRequest(command, args);
  const api = ApiClient.fromEnv(request.api, env);
  const subject = printable(`trigger/${request.project}/${request.trigger}`);
  // poll compares the last poll before and after; a paused trigger ignores poll-now, so say so instead.
  const before =
    command === 'poll' ? (await api.expect<TriggerView>('GET', request.path, [200])).body : undefined;
  if (before?.paused)
    throw new Refused(
      `${subject} is paused and would not poll; resume it first: feed-triggers resume ${printable(request.project)} ${printable(request.trigger)}`,
    );
  await api.expect('POST', `${request.path}/${command}`, [202]);
  if (request.waitMs === 0) return out(`${subject} ${command} requested`);

  const shown = (s: TriggerView): boolean =>
    command === 'pause'
      ? s.paused
      : command === 'resume'
        ? !s.paused
        : s.lastPoll !== null && s.lastPoll.at !== before?.lastPoll?.at;
  const deadline = Date.now() + request.waitMs;
  for (;;) {
    // The signal is accepted and will be acted on: a state that cannot be read now is only not shown yet.
    const now = await api.call<TriggerView>('GET', request.path).catch(() => undefined);
    const state = now?.status === 200 ? now.body : undefined;
    if (state && shown(state)) {
      if (command === 'pause') return out(`${subject} paused`);
      if (command === 'resume') return out(`${subject} resumed (${printable(state.status)})`);
      const poll = state.lastPoll!;
      const line = `${subject} polled: ${printable(poll.outcome)}${poll.reason ? `: ${printable(poll.reason)}` : ''}`;
      if (poll.outcome === 'error') throw new Refused(line);
      return out(line);
    }
    if (Date.now() >= deadline)
      return out(`${subject} ${command} requested; not shown in its state after ${request.waitMs / 1000}s`);
    await new Promise((r) => setTimeout(r, STATE_READ_EVERY_MS));
  }
}
