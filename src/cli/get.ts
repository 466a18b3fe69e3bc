import type { Approval, Deployment } from '../domain/deployment';
import type { FreezeInfo } from '../db/freezes';
import type { TenantInfo } from '../db/tenants';
import type { ProjectRelease, ProjectSpec } from '../domain/project';
import type { PhaseView } from '../domain/lifecycle';
import type { TriggerState } from '../domain/trigger';
import { ApiClient, ApiError, pathSegment } from './api-client';
import { ENVIRONMENT_HEADERS, environmentRows, ProjectEnvironments } from './environments';
import { printable, printableJson } from './printable';
import { decimalCount, parseCommandLine, UsageError } from './usage';

export const GET_USAGE =
  'usage: feed-triggers get projects|triggers|releases|environments|freezes|tenants [--project P] [--channel C] [--limit N] [-o table|json] [--api URL]';

const GET_HELP = [
  GET_USAGE,
  '',
  '  projects      each project: its packages, channels, destinations and release count',
  '  triggers      each trigger: channel, state (active, paused, error, retrying), last poll and release',
  "  releases      a project's newest releases (needs --project) with their deployments and lifecycle phases",
  '  environments  what is deployed where: per project and environment, the release, the state of the',
  '                latest deployment, since when, and what is queued or deploying',
  '  freezes       each deployment freeze: its window in force or next, time zone and scope',
  '  tenants       each tenant: its tags and the projects connecting it',
  '',
  '  -p, --project P   only this project',
  '  --channel C       releases of this channel only',
  '  --limit N         how many releases (1 to 100, default 20)',
  "  -o table|json     a table for people (default) or the API's answers as JSON",
  '',
  'exit codes: 0 shown, 1 refused by the API or not found, 2 bad usage',
].join('\n');

/** A release's deployments as `GET /projects/{project}/releases/{number}/deployments` answers. */
interface ReleaseDeployments {
  readonly lifecycle: { readonly name: string; readonly phases: readonly PhaseView[] } | null;
  readonly deployments: readonly Deployment[];
  readonly approvals: readonly Approval[];
}

/** At most `n` calls at a time: `get releases --limit 100` asks for 100 releases' deployments. */
async function mapLimited<T, R>(items: readonly T[], n: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const work = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, work));
  return results;
}

/** Each environment's latest deployment of the release, newest first as the API lists them: `dev=succeeded`. */
export function deploymentSummary(deployments: readonly Deployment[]): string {
  const seen = new Map<string, string>();
  for (const d of deployments) if (!seen.has(d.environment)) seen.set(d.environment, d.status);
  return (
    [...seen]
      .reverse()
      .map(([env, status]) => `${env}=${status}`)
      .join(',') || '-'
  );
}

/** Lays out rows under headers, columns padded to their widest cell; every cell is shown as text. */
export function table(headers: string[], given: string[][]): string {
  const rows = given.map((r) => r.map(printable));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `feed-triggers get`: tables for people (or JSON) from the API. */
export async function runGet(
  args: string[],
  out: (line: string) => void,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const parsed = parseCommandLine(
    {
      args,
      allowPositionals: true,
      options: {
        project: { type: 'string', short: 'p' },
        channel: { type: 'string' },
        limit: { type: 'string' },
        output: { type: 'string', short: 'o' },
        api: { type: 'string' },
      },
    },
    GET_HELP,
  );
  const { values, positionals } = parsed;
  const kind = positionals[0];
  if (
    positionals.length !== 1 ||
    !['projects', 'triggers', 'releases', 'environments', 'freezes', 'tenants'].includes(kind)
  )
    throw new UsageError(GET_USAGE);
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json')
    throw new UsageError(`-o: "${output}" is neither table nor json`);
  const limit = values.limit === undefined ? 20 : decimalCount(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw new UsageError('--limit: a whole number from 1 to 100');
  const api = ApiClient.fromEnv(values.api, env);
  const emit = (json: unknown, headers: string[], rows: string[][]) =>
    out(output === 'json' ? printableJson(json) : table(headers, rows));
  const project = values.project === undefined ? undefined : pathSegment(values.project, '--project');

  if (kind === 'projects') {
    const list = await api.expect<{ projects: { name: string }[] }>('GET', '/projects', [200]);
    const names = list.body.projects
      .map((p) => p.name)
      .filter((n) => values.project === undefined || n === values.project)
      .sort();
    const details = await Promise.all(
      names.map(
        async (n) =>
          (
            await api.expect<{ spec: ProjectSpec; releaseCount: number }>(
              'GET',
              `/projects/${encodeURIComponent(n)}`,
              [200],
            )
          ).body,
      ),
    );
    return emit(
      details,
      ['NAME', 'PACKAGES', 'CHANNELS', 'DESTINATIONS', 'RELEASES'],
      details.map((d) => [
        d.spec.name,
        d.spec.packages.map((p) => `${p.name}=${p.feed}/${p.package}`).join(','),
        d.spec.channels.map((c) => c.name).join(','),
        d.spec.destinations.map((x) => `${x.name}(${x.type})`).join(',') || '-',
        String(d.releaseCount),
      ]),
    );
  }

  if (kind === 'triggers') {
    const path = project ? `/projects/${project}/triggers` : '/triggers';
    const list = await api.expect<{ triggers: { project: string; name: string }[] }>('GET', path, [200]);
    const states = (
      await Promise.all(
        list.body.triggers.map(
          async (t) =>
            (
              await api.call<TriggerState & { status: string }>(
                'GET',
                `/triggers/${encodeURIComponent(t.project)}/${encodeURIComponent(t.name)}`,
              )
            ).body,
        ),
      )
    ).filter(
      (s): s is TriggerState & { status: string } => s !== null && typeof s === 'object' && 'spec' in s,
    );
    states.sort((a, b) =>
      `${a.spec.project}/${a.spec.name}`.localeCompare(`${b.spec.project}/${b.spec.name}`),
    );
    return emit(
      states,
      ['PROJECT', 'NAME', 'CHANNEL', 'STATUS', 'INTERVAL', 'LAST POLL', 'LAST RELEASE'],
      states.map((s) => [
        s.spec.project,
        s.spec.name,
        s.spec.channel,
        s.status,
        `${s.spec.intervalSeconds}s`,
        s.lastPoll ? `${s.lastPoll.at} ${s.lastPoll.outcome}` : '-',
        s.lastRelease?.number ?? '-',
      ]),
    );
  }

  if (kind === 'tenants') {
    const { tenants } = (await api.expect<{ tenants: TenantInfo[] }>('GET', '/tenants', [200])).body;
    return emit(
      tenants,
      ['NAME', 'TAGS', 'PROJECTS', 'DESCRIPTION'],
      tenants.map((t) => [
        t.spec.name,
        t.spec.tags.join(',') || '-',
        t.projects.join(',') || '-',
        t.spec.description || '-',
      ]),
    );
  }

  if (kind === 'freezes') {
    const { freezes } = (await api.expect<{ freezes: FreezeInfo[] }>('GET', '/freezes', [200])).body;
    return emit(
      freezes,
      ['NAME', 'ACTIVE', 'WINDOW', 'TIME ZONE', 'RECURRING', 'PROJECTS', 'ENVIRONMENTS'],
      freezes.map((f) => [
        f.spec.name,
        f.active ? 'yes' : 'no',
        f.window ? `${f.window.start}..${f.window.end}` : 'over',
        f.spec.timeZone,
        f.spec.recurring
          ? [
              f.spec.recurring.every,
              f.spec.recurring.days?.join(',') ?? f.spec.recurring.dayOfMonth ?? '',
              `${f.spec.recurring.from}-${f.spec.recurring.until}`,
            ]
              .filter((x) => x !== '')
              .join(' ')
          : '-',
        f.spec.projects?.join(',') ?? '(all)',
        f.spec.environments?.join(',') ?? '(all)',
      ]),
    );
  }

  if (kind === 'environments') {
    const names = project
      ? [values.project as string]
      : (await api.expect<{ projects: { name: string }[] }>('GET', '/projects', [200])).body.projects
          .map((p) => p.name)
          .sort();
    const boards = await mapLimited(names, 8, async (name) => {
      try {
        return (
          await api.expect<ProjectEnvironments>(
            'GET',
            `/projects/${encodeURIComponent(name)}/environments`,
            [200],
          )
        ).body;
      } catch (err) {
        // A project deleted since the list was read is not an error of the whole listing.
        if (!project && err instanceof ApiError && err.status === 404) return null;
        throw err;
      }
    });
    const shown = boards.filter((b): b is ProjectEnvironments => b !== null);
    return emit(shown, ENVIRONMENT_HEADERS, environmentRows(shown, new Date()));
  }

  if (!project) throw new UsageError('get releases needs --project');
  const query = new URLSearchParams({ limit: String(limit) });
  if (values.channel) query.set('channel', values.channel);
  const page = await api.expect<{ releases: ProjectRelease[] }>(
    'GET',
    `/projects/${project}/releases?${query}`,
    [200],
  );
  const releases = await mapLimited(page.body.releases, 8, async (r) => {
    const view = await api.expect<ReleaseDeployments>(
      'GET',
      `/projects/${project}/releases/${encodeURIComponent(r.number)}/deployments`,
      [200],
    );
    const { lifecycle, deployments, approvals } = view.body;
    return { ...r, lifecycle, deployments, approvals };
  });
  return emit(
    releases,
    ['NUMBER', 'CHANNEL', 'CREATED', 'PACKAGES', 'DEPLOYMENTS', 'PHASES', 'DELIVERIES'],
    releases.map((r) => [
      r.number,
      r.channel,
      r.createdAt,
      r.packages.map((p) => `${p.name}:${p.tag}`).join(','),
      deploymentSummary(r.deployments),
      r.lifecycle?.phases.map((p) => `${p.name}:${p.state}`).join(',') || '-',
      Object.entries(r.deliveries)
        .map(([d, s]) => `${d}=${s.status}`)
        .join(',') || '-',
    ]),
  );
}
