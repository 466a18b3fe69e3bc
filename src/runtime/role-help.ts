import { environmentHelp } from '../config';

type RoleName = 'serve' | 'worker' | 'api';

const ROLE_SUMMARY: Record<RoleName, string> = {
  serve:
    'Runs the worker and the API in one process (what npm start runs), with an embedded Temporal dev server\nunless TEMPORAL_ADDRESS is set.',
  worker:
    'Runs a worker only: several scale out on one task queue. Needs TEMPORAL_ADDRESS and DATABASE_URL;\nanswers /healthz, /readyz and /metrics on FEED_TRIGGERS_API_HOST:FEED_TRIGGERS_API_PORT.',
  api: 'Runs the API only, in front of workers on the same task queue. Needs TEMPORAL_ADDRESS and DATABASE_URL.',
};

/** `feed-triggers <role> --help`: what the role runs and every environment variable it reads. */
export function roleUsage(role: RoleName): string {
  return [
    `usage: feed-triggers ${role}`,
    '',
    ROLE_SUMMARY[role],
    '',
    'environment (all optional):',
    environmentHelp(role),
  ].join('\n');
}
