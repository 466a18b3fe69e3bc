import type { Deployment } from '../db/deployments';

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
 * The dashboard as rows, one per project and environment: the release deployed there and since when, the
 * state of the latest deployment (with its release when that is not the one deployed), and the queue.
 */
export function environmentRows(boards: readonly ProjectEnvironments[], now: Date): string[][] {
  return boards.flatMap((board) =>
    board.environments.map((env) => {
      const { current, latest } = env;
      const state =
        latest === null
          ? 'never deployed'
          : latest.release === current?.release && latest.status === 'succeeded'
            ? 'succeeded'
            : `${latest.status} ${latest.release}`;
      return [
        board.project,
        env.name,
        current?.release ?? '-',
        state,
        age(current?.deployedAt, now),
        env.inFlight.map((d) => `${d.release}:${d.status}`).join(',') || '-',
      ];
    }),
  );
}
