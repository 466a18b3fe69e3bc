import { Pager } from '../pager';
import { useState } from 'preact/hooks';
import type { PageProps } from '../main';
import { may, reasonOf } from '../api';
import { Action } from './project';
import { useLoad } from '../live';
import { age, route, scheduleText } from '../format';
import { Lane, useTenantLanes } from '../tenants';

const HISTORY_PAGE = 10;
/** Deployments a person may still cancel: not started yet. */
const CANCELLABLE: ReadonlySet<string> = new Set(['scheduled', 'queued', 'retrying']);

/** One environment's deployments over time, newest first, a page at a time. */
function EnvironmentHistory({
  api,
  session,
  project,
  environment,
}: PageProps & { project: string; environment: string }) {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const history = useLoad(async () => {
    const { data, error, response } = await api.GET(
      '/projects/{project}/environments/{environment}/deployments',
      {
        params: {
          path: { project, environment },
          query: { limit: HISTORY_PAGE, ...(cursor ? { cursor } : {}) },
        },
      },
    );
    if (!data) throw new Error(reasonOf(error, response));
    return data;
  }, [project, environment, cursor]);
  const operator = may(session, 'operator');
  return (
    <section aria-label={`History of ${environment} in ${project}`} class="env-history">
      {history.error && (
        <p role="alert" class="refusal">
          {history.error}
        </p>
      )}
      {history.data && history.data.deployments.length === 0 && <p>No deployment yet.</p>}
      {history.data && history.data.deployments.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Release</th>
              <th scope="col">Tenant</th>
              <th scope="col">Status</th>
              <th scope="col">Asked by</th>
              <th scope="col">Queued</th>
              <th scope="col">Finished</th>
              {operator && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {history.data.deployments.map((d) => (
              <tr
                data-deployment={String(d.id)}
                data-release={d.release}
                data-status={d.status}
                data-tenant={d.tenant ?? ''}
              >
                <td>
                  <a href={route('projects', project, 'releases', d.release)}>{d.release}</a>
                  {d.forced && <span class="hint"> forced</span>}
                </td>
                <td>{d.tenant ?? '—'}</td>
                <td>
                  {d.status}
                  {d.status === 'scheduled' && <span class="when"> {scheduleText(d)}</span>}
                  {d.error && (
                    <span class="refusal" title={d.error}>
                      {' '}
                      {d.error}
                    </span>
                  )}
                </td>
                <td>{d.requestedBy}</td>
                <td>{age(d.queuedAt)}</td>
                <td>{d.finishedAt ? age(d.finishedAt) : '—'}</td>
                {operator && (
                  <td>
                    {CANCELLABLE.has(d.status) && (
                      <Action
                        label={`Cancel ${d.release} in ${environment}${d.tenant ? ` for ${d.tenant}` : ''}`}
                        danger
                        run={async () => {
                          const { error, response } = await api.POST(
                            '/projects/{project}/releases/{number}/deployments/{environment}/cancel',
                            {
                              params: {
                                path: { project, number: d.release, environment },
                                query: d.tenant ? { tenant: d.tenant } : {},
                              },
                            },
                          );
                          history.reload();
                          return response.ok ? null : reasonOf(error, response);
                        }}
                      />
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager cursors={cursors} setCursors={setCursors} next={history.data?.nextCursor} />
    </section>
  );
}

/** A tenant's row under its environment: what is deployed for it there, in flight, and its latest deployment. */
function TenantLaneRow({ project, environment, lane }: { project: string; environment: string; lane: Lane }) {
  return (
    <tr class="tenant-row" data-environment={environment} data-tenant={lane.tenant}>
      <th scope="row" class="name">
        <span class="hint">{environment} for </span>
        {lane.tenant}
      </th>
      <td>
        {lane.current ? (
          <a href={route('projects', project, 'releases', lane.current.release)}>{lane.current.release}</a>
        ) : (
          'nothing'
        )}{' '}
        {lane.current?.deployedAt && <span class="hint">{age(lane.current.deployedAt)}</span>}
        {lane.freeze && <span class="badge frozen">frozen by {lane.freeze.name}</span>}
      </td>
      <td>{lane.inFlight.length}</td>
      <td>
        {lane.latest
          ? `${lane.latest.release} ${lane.latest.status}, ${age(lane.latest.finishedAt ?? lane.latest.queuedAt)}`
          : '—'}
        {lane.latest?.status === 'scheduled' && <span class="when"> {scheduleText(lane.latest)}</span>}
        {lane.latest?.error && <span class="refusal"> {lane.latest.error}</span>}
      </td>
      <td>
        <span class="hint">in the environment's history</span>
      </td>
    </tr>
  );
}

/** What is deployed where, what is in flight, each environment's latest deployment and history, by project. */
export function EnvironmentsPage(props: PageProps) {
  const { api } = props;
  // Which environments show their history, as "project NUL environment".
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = (key: string) =>
    setOpen((o) => {
      const next = new Set(o);
      if (!next.delete(key)) next.add(key);
      return next;
    });
  const overview = useLoad(async () => {
    const { data, error, response } = await api.GET('/environments');
    if (!data) throw new Error(reasonOf(error, response));
    return data.projects;
  }, []);
  const lanes = useTenantLanes(api);
  return (
    <section aria-labelledby="env-title">
      <h1 id="env-title">Environments</h1>
      {overview.error && (
        <p role="alert" class="refusal">
          {overview.error}
        </p>
      )}
      {(overview.data ?? []).map((p) => (
        <section aria-label={`Environments of ${p.project}`} class="env-project">
          <h2>
            <a href={route('projects', p.project)}>{p.project}</a>
          </h2>
          <table class="list">
            <thead>
              <tr>
                <th scope="col">Environment</th>
                <th scope="col">Deployed</th>
                <th scope="col">In flight</th>
                <th scope="col">Latest deployment</th>
                <th scope="col">History</th>
              </tr>
            </thead>
            <tbody>
              {p.environments.map((e) => {
                const key = `${p.project}\u0000${e.name}`;
                const tenantLanes = lanes.data?.get(p.project)?.get(e.name) ?? [];
                return [
                  <tr>
                    <th scope="row">{e.name}</th>
                    <td>
                      {e.current ? (
                        <a href={route('projects', p.project, 'releases', e.current.release)}>
                          {e.current.release}
                        </a>
                      ) : (
                        'nothing'
                      )}{' '}
                      {e.current?.deployedAt && <span class="hint">{age(e.current.deployedAt)}</span>}
                    </td>
                    <td>{e.inFlight}</td>
                    <td>
                      {e.latest
                        ? `${e.latest.release} ${e.latest.status}, ${age(e.latest.finishedAt ?? e.latest.queuedAt)}`
                        : '—'}
                      {e.latest?.error && <span class="refusal"> {e.latest.error}</span>}
                    </td>
                    <td>
                      <button
                        type="button"
                        aria-expanded={open.has(key)}
                        aria-label={`${open.has(key) ? 'Hide' : 'Show'} history of ${e.name} in ${p.project}`}
                        onClick={() => toggle(key)}
                      >
                        {open.has(key) ? 'Hide' : 'Show'}
                      </button>
                    </td>
                  </tr>,
                  ...tenantLanes.map((lane) => (
                    <TenantLaneRow project={p.project} environment={e.name} lane={lane} />
                  )),
                  open.has(key) && (
                    <tr class="history">
                      <td colSpan={5}>
                        <EnvironmentHistory {...props} project={p.project} environment={e.name} />
                      </td>
                    </tr>
                  ),
                ];
              })}
            </tbody>
          </table>
        </section>
      ))}
    </section>
  );
}
