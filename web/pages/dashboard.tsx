import { useState } from 'preact/hooks';
import type { PageProps } from '../main';
import { reasonOf } from '../api';
import { useLoad } from '../live';
import { age, route } from '../format';

/** What one cell of the all-projects overview holds: an environment's deployments, or one tenant's there. */
type OverviewCell = {
  current: { release: string; deployedAt: string | null } | null;
  latest: {
    release: string;
    status: string;
    queuedAt: string;
    finishedAt: string | null;
    error: string | null;
  } | null;
  inFlight: number;
  awaitingApproval: { release: string; phase: string } | null;
};
type Overview = {
  project: string;
  newestRelease: { number: string; channel: string; createdAt: string } | null;
  environments: (OverviewCell & {
    name: string;
    /** A tenanted project's tenants connected to the environment, each with its own cell. */
    tenants?: (OverviewCell & { tenant: string })[];
  })[];
}[];
type Trigger = { project: string; name: string; status: string | null };

const ACTIVE = new Set(['queued', 'deploying', 'retrying']);

/** What a cell is made of: an environment's untenanted deployments, or one tenant's there. */
type CellSource = Pick<OverviewCell, 'current' | 'latest' | 'awaitingApproval'>;

/**
 * What a cell shows: the newest deployment while it is under way; else a release waiting for an approval to
 * reach the environment; else the newest deployment if it failed; else what is deployed.
 */
export function cellOf(env: CellSource): {
  release: string | null;
  state: string;
  at: string | null;
} {
  const l = env.latest;
  if (l && ACTIVE.has(l.status))
    return { release: l.release, state: l.status, at: l.finishedAt ?? l.queuedAt };
  if (env.awaitingApproval)
    return { release: env.awaitingApproval.release, state: 'awaiting-approval', at: null };
  if (l && l.status !== 'succeeded' && l.status !== 'superseded' && l.status !== 'cancelled')
    return { release: l.release, state: l.status, at: l.finishedAt ?? l.queuedAt };
  if (env.current) return { release: env.current.release, state: 'succeeded', at: env.current.deployedAt };
  return { release: null, state: 'none', at: null };
}

/** The tenants with a cell in any of a project's environments, by name. */
function tenantsIn(project: Overview[number]): string[] {
  const names = new Set<string>();
  for (const e of project.environments) for (const t of e.tenants ?? []) names.add(t.tenant);
  return [...names].sort();
}

function stateText(state: string): string {
  if (state === 'none') return 'nothing deployed';
  if (state === 'awaiting-approval') return 'awaiting approval';
  return state;
}

/** One cell of the grid: the release there, its state and age, how many deployments are in flight. */
function Cell(props: {
  project: string;
  environment: string;
  source: CellSource;
  inFlight: number;
  now: number;
}) {
  const cell = cellOf(props.source);
  return (
    <td class={`cell ${cell.state}`} data-environment={props.environment} data-state={cell.state}>
      {cell.release ? (
        <a href={route('projects', props.project, 'releases', cell.release)}>
          <span class="release">{cell.release}</span>
        </a>
      ) : (
        <span class="release none">—</span>
      )}
      <span class="state">{stateText(cell.state)}</span>
      {cell.at && <span class="age">{age(cell.at, props.now)}</span>}
      {props.inFlight > 0 && <span class="inflight">{props.inFlight} in flight</span>}
    </td>
  );
}

/** Projects × environments: the release in each cell, its state and age; each project's triggers. */
export function Dashboard({ api }: PageProps) {
  const [filter, setFilter] = useState('');
  const [stateFilter, setStateFilter] = useState('');
  const overview = useLoad(async () => {
    const { data, error, response } = await api.GET('/environments');
    if (!data) throw new Error(reasonOf(error, response));
    return data.projects as Overview;
  }, []);
  // Trigger state lives in Temporal: when it does not answer the grid still shows, without trigger health.
  const triggers = useLoad(async () => {
    const { data, error, response } = await api.GET('/triggers', { params: { query: {} } });
    if (!data) throw new Error(reasonOf(error, response));
    return (data as { triggers: Trigger[] }).triggers;
  }, []);
  // A tenanted project's tenants get a row each under it, a cell per environment they are connected to (the
  // overview carries them: one read for the whole grid).
  const projects = overview.data ?? [];
  const columns: string[] = [];
  for (const p of projects)
    for (const e of p.environments) if (!columns.includes(e.name)) columns.push(e.name);
  const needle = filter.trim().toLowerCase();
  const byProject = new Map<string, Trigger[]>();
  for (const t of triggers.data ?? []) byProject.set(t.project, [...(byProject.get(t.project) ?? []), t]);
  const shown = projects.filter(
    (p) =>
      (!needle || p.project.toLowerCase().includes(needle)) &&
      (!stateFilter ||
        p.environments.some((e) => cellOf(e).state === stateFilter) ||
        p.environments.some((e) => (e.tenants ?? []).some((t) => cellOf(t).state === stateFilter))),
  );
  const now = Date.now();
  return (
    <section aria-labelledby="dash-title">
      <h1 id="dash-title">Dashboard</h1>
      <div class="filters" role="search">
        <label for="dash-filter">Find a project</label>
        <input
          id="dash-filter"
          type="search"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        <label for="dash-state">State</label>
        <select
          id="dash-state"
          value={stateFilter}
          onChange={(e) => setStateFilter((e.target as HTMLSelectElement).value)}
        >
          <option value="">any</option>
          {['succeeded', 'deploying', 'queued', 'retrying', 'failed', 'awaiting-approval', 'none'].map(
            (s) => (
              <option value={s}>{stateText(s)}</option>
            ),
          )}
        </select>
        <span class="count" aria-live="polite">
          {shown.length} of {projects.length} projects
        </span>
      </div>
      {overview.error && (
        <p role="alert" class="refusal">
          {overview.error}
        </p>
      )}
      {triggers.error && <p class="hint">Trigger health is not available: {triggers.error}</p>}
      <table class="grid" data-testid="dashboard">
        <thead>
          <tr>
            <th scope="col">Project</th>
            <th scope="col">Triggers</th>
            {columns.map((c) => (
              <th scope="col">{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {shown.map((p) => {
            const envs = new Map(p.environments.map((e) => [e.name, e]));
            return [
              <tr key={p.project} data-project={p.project}>
                <th scope="row" class="name">
                  <a href={route('projects', p.project)}>{p.project}</a>
                </th>
                <td class="triggers">
                  {(byProject.get(p.project) ?? []).map((t) => (
                    <span
                      class={`badge ${t.status ?? 'unknown'}`}
                      title={`trigger ${t.name}: ${t.status ?? 'unknown'}`}
                    >
                      {t.name}: {t.status ?? 'unknown'}
                    </span>
                  ))}
                </td>
                {columns.map((c) => {
                  const env = envs.get(c);
                  if (!env) return <td class="cell absent" />;
                  return (
                    <Cell
                      project={p.project}
                      environment={c}
                      source={env}
                      inFlight={env.inFlight}
                      now={now}
                    />
                  );
                })}
              </tr>,
              ...tenantsIn(p).map((tenant) => (
                <tr
                  key={`${p.project}\u0000${tenant}`}
                  class="tenant-row"
                  data-tenant-of={p.project}
                  data-tenant={tenant}
                >
                  <th scope="row" class="name">
                    <span class="hint">tenant </span>
                    {tenant}
                  </th>
                  <td class="triggers" />
                  {columns.map((c) => {
                    const lane = envs.get(c)?.tenants?.find((l) => l.tenant === tenant);
                    if (!lane) return <td class="cell absent" />;
                    return (
                      <Cell
                        project={p.project}
                        environment={c}
                        source={lane}
                        inFlight={lane.inFlight}
                        now={now}
                      />
                    );
                  })}
                </tr>
              )),
            ];
          })}
        </tbody>
      </table>
    </section>
  );
}
