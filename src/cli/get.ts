import type { ProjectRelease, ProjectSpec } from '../domain/project';
import type { TriggerState } from '../domain/trigger';
import { ApiClient } from './api-client';
import { parseCommandLine, UsageError } from './usage';

export const GET_USAGE =
  'usage: feed-triggers get projects|triggers|releases [--project P] [--channel C] [--limit N] [-o table|json] [--api URL]';

/** Lays out rows under headers, columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
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
    GET_USAGE,
  );
  const { values, positionals } = parsed;
  const kind = positionals[0];
  if (positionals.length !== 1 || !['projects', 'triggers', 'releases'].includes(kind))
    throw new UsageError(GET_USAGE);
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json')
    throw new UsageError(`-o: "${output}" is neither table nor json`);
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw new UsageError('--limit: a whole number from 1 to 100');
  const api = ApiClient.fromEnv(values.api, env);
  const emit = (json: unknown, headers: string[], rows: string[][]) =>
    out(output === 'json' ? JSON.stringify(json, null, 2) : table(headers, rows));

  if (kind === 'projects') {
    const list = await api.expect<{ projects: { name: string }[] }>('GET', '/projects', [200]);
    const names = list.body.projects
      .map((p) => p.name)
      .filter((n) => values.project === undefined || n === values.project)
      .sort();
    const details = await Promise.all(
      names.map(
        async (n) =>
          (await api.expect<{ spec: ProjectSpec; releaseCount: number }>('GET', `/projects/${n}`, [200]))
            .body,
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
    const path = values.project ? `/projects/${values.project}/triggers` : '/triggers';
    const list = await api.expect<{ triggers: { project: string; name: string }[] }>('GET', path, [200]);
    const states = (
      await Promise.all(
        list.body.triggers.map(
          async (t) =>
            (await api.call<TriggerState & { status: string }>('GET', `/triggers/${t.project}/${t.name}`))
              .body,
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

  if (!values.project) throw new UsageError('get releases needs --project');
  const query = new URLSearchParams({ limit: String(limit) });
  if (values.channel) query.set('channel', values.channel);
  const page = await api.expect<{ releases: ProjectRelease[] }>(
    'GET',
    `/projects/${values.project}/releases?${query}`,
    [200],
  );
  return emit(
    page.body.releases,
    ['NUMBER', 'CHANNEL', 'CREATED', 'PACKAGES', 'DELIVERIES'],
    page.body.releases.map((r) => [
      r.number,
      r.channel,
      r.createdAt,
      r.packages.map((p) => `${p.name}:${p.tag}`).join(','),
      Object.entries(r.deliveries)
        .map(([d, s]) => `${d}=${s.status}`)
        .join(',') || '-',
    ]),
  );
}
