import type { Deployment } from '../domain/deployment';

/** One environment of a project as `GET /projects/{project}/environments` answers it. */
export interface EnvironmentView {
  readonly name: string;
  readonly current: {
    readonly release: string;
    readonly deployment: number;
    readonly deployedAt: string | null;
  } | null;
  readonly inFlight: readonly Deployment[];
  readonly latest: Deployment | null;
}

export interface ProjectEnvironments {
  readonly project: string;
  readonly environments: readonly EnvironmentView[];
}

export const ENVIRONMENT_HEADERS = ['PROJECT', 'ENVIRONMENT', 'RELEASE', 'STATE', 'AGE', 'IN FLIGHT'];

/** How long ago, as kubectl shows it: 45s, 12m, 5h, 3d; `-` for no time. */
export function age(iso: string | null | undefined, now: Date): string {
  const at = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(at)) return '-';
  const seconds = Math.max(0, Math.floor((now.getTime() - at) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 120 * 60) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/**
 * What an environment is doing, in a word and a release: the deployment under way (the oldest in flight,
 * as the queue runs them in order), else a failure since the release there, else `succeeded`. A superseded
 * or cancelled request since is history, not the environment's state.
 */
export function environmentState(env: EnvironmentView): string {
  const { current, latest } = env;
  const running = env.inFlight[0];
  if (running) return `${running.status} ${running.release}`;
  if (latest?.status === 'failed' && latest.id !== current?.deployment) return `failed ${latest.release}`;
  if (current) return 'succeeded';
  return latest ? `${latest.status} ${latest.release}` : 'never deployed';
}

/**
 * The dashboard as rows, one per project and environment: the release deployed there, what the environment
 * is doing, since when the release is there, and the queue.
 */
export function environmentRows(boards: readonly ProjectEnvironments[], now: Date): string[][] {
  return boards.flatMap((board) =>
    board.environments.map((env) => [
      board.project,
      env.name,
      env.current?.release ?? '-',
      environmentState(env),
      age(env.current?.deployedAt, now),
      env.inFlight.map((d) => `${d.release}:${d.status}`).join(',') || '-',
    ]),
  );
}
