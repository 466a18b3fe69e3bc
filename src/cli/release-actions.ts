import type { Approval, Deployment } from '../domain/deployment';
import { ApiClient, ApiError, pathSegment } from './api-client';
import { printable } from './printable';
import { parseCommandLine, UsageError } from './usage';

export type ReleaseCommand = 'deploy' | 'rollback' | 'approve' | 'reject' | 'cancel';

const EXIT_CODES =
  'exit codes: 0 done, 1 refused by the API (its reason on stderr) or not found, 2 bad usage';

/** One line each, for `feed-triggers --help`. */
export const RELEASE_USAGE: Record<ReleaseCommand, string> = {
  deploy:
    'usage: feed-triggers deploy PROJECT RELEASE ENVIRONMENT [--tenant NAME]... [--tenant-tag SET/TAG]... [--at TIME [--expiry TIME]] [--override-freeze REASON] [--api URL]',
  rollback:
    'usage: feed-triggers rollback PROJECT RELEASE ENVIRONMENT [--tenant NAME]... [--tenant-tag SET/TAG]... [--force] [--api URL]',
  approve: 'usage: feed-triggers approve PROJECT RELEASE PHASE --comment TEXT [--tenant NAME] [--api URL]',
  reject: 'usage: feed-triggers reject PROJECT RELEASE PHASE --comment TEXT [--tenant NAME] [--api URL]',
  cancel: 'usage: feed-triggers cancel PROJECT RELEASE ENVIRONMENT [--tenant NAME] [--api URL]',
};

const RELEASE_HELP: Record<ReleaseCommand, string> = {
  deploy: [
    'Deploys (promotes) a release to an environment, as its lifecycle allows: the phase before must be',
    'complete and, where the phase needs one, approved. The deployment is queued; `get environments`',
    'and `get releases` show how it goes. An older release than the one in the environment is a rollback.',
    'While a freeze holds the environment the API refuses, naming it; an admin token may deploy anyway',
    'with --override-freeze REASON, which the deployment and the audit log record.',
    '--at TIME (ISO 8601 with an offset, e.g. 2026-12-07T02:00:00+01:00) schedules it: `scheduled` until then;',
    '--expiry TIME cancels it if it has not started by then (a freeze at that time holds it).',
    'For a tenanted project, --tenant NAME and --tenant-tag SET/TAG (each repeatable, as in Octopus) pick the',
    'tenants: one deployment each; tags of one set are alternatives, tags of different sets must all match.',
  ].join('\n'),
  rollback: [
    'Deploys an older release over a newer one in an environment. The API refuses without --force,',
    'naming the newer release that is there; --force asks for the rollback deliberately.',
  ].join('\n'),
  approve: [
    'Approves a lifecycle phase of a release (the phase by its name in the lifecycle), so its',
    'environments can be deployed. A phase is decided once; --comment says why, for the record.',
    'With --tenant NAME, for that tenant only; without, for every tenant that has no decision of its own.',
  ].join('\n'),
  reject: [
    'Rejects a lifecycle phase of a release: its environments are refused this release from now on.',
    'A phase is decided once; --comment says why, for the record.',
  ].join('\n'),
  cancel: [
    "Cancels the release's queued (or retrying, between attempts) deployment to an environment.",
    'One already deploying cannot be cancelled.',
  ].join('\n'),
};

/** `feed-triggers <command> --help`: the usage line, what the command does, and its exit codes. */
export function releaseHelp(command: ReleaseCommand): string {
  return [RELEASE_USAGE[command], '', RELEASE_HELP[command], '', EXIT_CODES].join('\n');
}

/** The API call a command line asks for, decided before anything is sent. */
export interface ReleaseRequest {
  readonly method: 'POST';
  readonly path: string;
  readonly body?: Record<string, unknown>;
  /** The status the API answers on success. */
  readonly ok: number;
  readonly api?: string;
  /** Who the request is about, as the success line names it: `deployment/shop/3/prod`. */
  readonly subject: string;
  /** PROJECT RELEASE and ENVIRONMENT or PHASE, as given. */
  readonly positionals: readonly string[];
}

/**
 * Parses `deploy`, `rollback`, `approve`, `reject` or `cancel`'s arguments into the API call; a bad command
 * line is a UsageError (exit 2) and nothing is sent.
 */
export function releaseRequest(command: ReleaseCommand, args: string[]): ReleaseRequest {
  const decides = command === 'approve' || command === 'reject';
  const { values, positionals } = parseCommandLine(
    {
      args,
      allowPositionals: true,
      options: {
        api: { type: 'string' },
        ...(decides ? { comment: { type: 'string', short: 'm' } } : {}),
        ...(command === 'rollback' ? { force: { type: 'boolean' } } : {}),
        ...(command === 'deploy' || command === 'rollback'
          ? { tenant: { type: 'string', multiple: true }, 'tenant-tag': { type: 'string', multiple: true } }
          : { tenant: { type: 'string' } }),
        ...(command === 'deploy'
          ? { 'override-freeze': { type: 'string' }, at: { type: 'string' }, expiry: { type: 'string' } }
          : {}),
      },
    },
    releaseHelp(command),
  );
  if (positionals.length !== 3)
    throw new UsageError(
      `${command} takes 3 arguments, not ${positionals.length}; ${RELEASE_USAGE[command]}`,
    );
  const [project, release, third] = positionals;
  const releasePath = `/projects/${pathSegment(project, 'PROJECT')}/releases/${pathSegment(release, 'RELEASE')}`;
  const api = values.api as string | undefined;
  if (decides) {
    const comment = values.comment as string | undefined;
    if (comment === undefined || comment.trim() === '')
      throw new UsageError(`${command} needs --comment TEXT: why, for the record; ${RELEASE_USAGE[command]}`);
    pathSegment(third, 'PHASE');
    return {
      method: 'POST',
      path: `${releasePath}/approvals`,
      body: { phase: third, decision: command, comment, ...(values.tenant ? { tenant: values.tenant } : {}) },
      ok: 201,
      api,
      subject: `approval/${project}/${release}/${third}`,
      positionals,
    };
  }
  const environment = pathSegment(third, 'ENVIRONMENT');
  const subject = `deployment/${project}/${release}/${third}`;
  if (command === 'cancel')
    return {
      method: 'POST',
      path:
        `${releasePath}/deployments/${environment}/cancel` +
        (values.tenant ? `?tenant=${encodeURIComponent(values.tenant as string)}` : ''),
      ok: 200,
      api,
      subject,
      positionals,
    };
  const override = values['override-freeze'] as string | undefined;
  // The options of deploy and rollback differ from those of cancel: read as the parser gave them.
  const tenantTags = (values as Record<string, unknown>)['tenant-tag'] as string[] | undefined;
  if (override !== undefined && override.trim() === '')
    throw new UsageError(`--override-freeze needs a REASON, for the record; ${RELEASE_USAGE[command]}`);
  return {
    method: 'POST',
    path: `${releasePath}/deployments`,
    body: {
      environment: third,
      ...(command === 'rollback' && values.force === true ? { force: true } : {}),
      ...(override !== undefined ? { overrideFreeze: { reason: override } } : {}),
      ...(values.at !== undefined ? { deployAt: values.at } : {}),
      ...(values.expiry !== undefined ? { deployAtExpiry: values.expiry } : {}),
      ...(values.tenant ? { tenants: values.tenant } : {}),
      ...(tenantTags ? { tenantTags } : {}),
    },
    ok: 202,
    api,
    subject,
    positionals,
  };
}

/** `deploy`, `rollback`, `approve`, `reject`, `cancel`: one API call; the API's refusal is the error. */
export async function runReleaseCommand(
  command: ReleaseCommand,
  args: string[],
  out: (line: string) => void,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const request = releaseRequest(command, args);
  const api = ApiClient.fromEnv(request.api, env);
  let answer;
  try {
    answer = await api.expect<Deployment & Approval & { deployments?: Deployment[] }>(
      request.method,
      request.path,
      [request.ok],
      request.body,
    );
  } catch (err) {
    // The API calls it a rollback and asks for its "force": say how in this CLI's words.
    if (err instanceof ApiError && err.status === 422 && err.message.includes('"force": true'))
      throw new ApiError(
        err.status,
        `${err.message}\nto roll back anyway: feed-triggers rollback ${request.positionals.join(' ')} --force`,
      );
    throw err;
  }
  const subject = printable(request.subject);
  const body = answer.body;
  if (command === 'approve' || command === 'reject')
    return out(`${subject} ${printable(String(body.decision))} by ${printable(String(body.by))}`);
  // A tenanted request: one line per tenant's deployment.
  if (body.deployments) {
    for (const d of body.deployments)
      out(`${subject}/${printable(String(d.tenant))} ${deploymentLine(d, command)}`);
    return;
  }
  out(`${subject} ${deploymentLine(body, command)}`);
}

/** A deployment's status as the success line shows it: `queued`, `scheduled for …`, `(forced)`, `(through freeze …)`. */
function deploymentLine(body: Deployment, command: ReleaseCommand): string {
  // Forced is how a deployment was asked for; a cancel's answer is that deployment, but the news is the cancel.
  const forced = body.forced && command !== 'cancel' ? ' (forced)' : '';
  const through = body.freezeOverride
    ? ` (through freeze ${printable(String(body.freezeOverride.freeze))})`
    : '';
  const when = body.status === 'scheduled' && body.deployAt ? ` for ${printable(String(body.deployAt))}` : '';
  return `${printable(String(body.status))}${when}${forced}${through}`;
}
