import { useState } from 'preact/hooks';
import type { PageProps } from '../main';
import { may, reasonOf } from '../api';
import { useLoad } from '../live';
import { age, route, scheduleText, temporalLink, utc } from '../format';
import { ProjectEnvironment } from '../tenants';
import { Action } from './project';
import { DeployForm } from './deploy-form';

/** A release: packages, why it was made, deliveries, the lifecycle and its deployments, and the actions. */
export function ReleasePage({
  api,
  session,
  project,
  number,
}: PageProps & { project: string; number: string }) {
  const [comment, setComment] = useState('');
  const path = { project, number };
  const release = useLoad(async () => {
    const { data, error, response } = await api.GET('/projects/{project}/releases/{number}', {
      params: { path },
    });
    if (!data) throw new Error(reasonOf(error, response));
    return data;
  }, [project, number]);
  const lifecycle = useLoad(async () => {
    const { data, error, response } = await api.GET('/projects/{project}/releases/{number}/deployments', {
      params: { path },
    });
    if (!data) throw new Error(reasonOf(error, response));
    return data;
  }, [project, number]);
  const envs = useLoad(async () => {
    const { data, error, response } = await api.GET('/projects/{project}/environments', {
      params: { path: { project } },
    });
    if (!data) throw new Error(reasonOf(error, response));
    return data.environments as ProjectEnvironment[];
  }, [project]);
  const mode = useLoad(async () => {
    const { data, error, response } = await api.GET('/projects/{project}', { params: { path: { project } } });
    if (!data) throw new Error(reasonOf(error, response));
    return data.spec.tenantedDeployments ?? 'untenanted';
  }, [project]);
  const r = release.data;
  const l = lifecycle.data;
  const deploy =
    (environment: string, force = false) =>
    async () => {
      const { error, response } = await api.POST('/projects/{project}/releases/{number}/deployments', {
        params: { path },
        body: { environment, force },
      });
      lifecycle.reload();
      return response.ok ? null : reasonOf(error, response);
    };
  const decide = (phase: string, decision: 'approve' | 'reject', tenant?: string) => async () => {
    if (!comment.trim()) return 'write a comment first: it is kept with the decision';
    const { error, response } = await api.POST('/projects/{project}/releases/{number}/approvals', {
      params: { path },
      body: { phase, decision, comment: comment.trim(), ...(tenant ? { tenant } : {}) },
    });
    lifecycle.reload();
    if (response.ok) setComment('');
    return response.ok ? null : reasonOf(error, response);
  };
  const cancel = (environment: string, tenant?: string) => async () => {
    const { error, response } = await api.POST(
      '/projects/{project}/releases/{number}/deployments/{environment}/cancel',
      { params: { path: { project, number, environment }, query: tenant ? { tenant } : {} } },
    );
    lifecycle.reload();
    return response.ok ? null : reasonOf(error, response);
  };
  const link = temporalLink(session.temporalUi, `release/${project}/${number}`);
  const operator = may(session, 'operator');
  const tenanted = mode.data !== undefined && mode.data !== null && mode.data !== 'untenanted';
  const tenantPhases = l?.lifecycle?.tenants ?? [];
  // A phase some tenant waits to have approved, with no decision for every tenant yet: it may be given once.
  const forAll = (phase: string) =>
    tenantPhases.some((t) => t.phases.some((p) => p.name === phase && p.state === 'awaiting-approval')) &&
    !l?.approvals.some((a) => a.phase === phase && a.tenant === undefined);
  const newerThere = (env: string) => {
    const current = envs.data?.find((e) => e.name === env)?.current?.release;
    return current !== undefined && current !== number;
  };
  return (
    <section aria-labelledby="release-title">
      <p class="crumbs">
        <a href={route('projects', project)}>{project}</a>
      </p>
      <h1 id="release-title">
        Release {number}
        {r && <span class="hint"> channel {r.channel}</span>}
      </h1>
      {release.error && (
        <p role="alert" class="refusal">
          {release.error}
        </p>
      )}
      {r && (
        <>
          <p class="why">
            <strong>Why: </strong>
            {r.reason} ({r.source.kind === 'trigger' ? r.source.trigger : 'made by hand'}, {age(r.createdAt)})
          </p>
          {r.notes && (
            <>
              <h2 id="notes-title">Release notes</h2>
              <p class="notes" aria-labelledby="notes-title" data-testid="release-notes">
                {r.notes}
              </p>
            </>
          )}
          {link && (
            <p>
              <a href={link} target="_blank" rel="noopener noreferrer">
                Temporal Web UI
              </a>
            </p>
          )}
          <table class="list">
            <caption>Packages</caption>
            <thead>
              <tr>
                <th scope="col">Package</th>
                <th scope="col">Version</th>
                <th scope="col">Digest</th>
              </tr>
            </thead>
            <tbody>
              {r.packages.map((p) => (
                <tr>
                  <th scope="row">
                    {p.name} <span class="hint">{`${p.feed} ${p.package}`}</span>
                  </th>
                  <td class="mono">{p.tag}</td>
                  <td class="mono digest">{p.digest ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {r.verified && r.verified.length > 0 && (
            <table class="list verified">
              <caption>Verified</caption>
              <thead>
                <tr>
                  <th scope="col">Package</th>
                  <th scope="col">Digest</th>
                  <th scope="col">Check</th>
                  <th scope="col">Key</th>
                  <th scope="col">Key fingerprint</th>
                  <th scope="col">Verified</th>
                </tr>
              </thead>
              <tbody>
                {r.verified.map((v) => (
                  <tr data-package={v.package} data-key={v.key?.name ?? ''}>
                    <th scope="row">{v.package}</th>
                    <td class="mono digest">{v.digest}</td>
                    <td class="check">{v.reason}</td>
                    <td class="key">{v.key?.name ?? '—'}</td>
                    <td class="mono digest fingerprint">{v.key?.fingerprint ?? '—'}</td>
                    <td>{age(v.verifiedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {Object.keys(r.deliveries).length > 0 && (
            <table class="list">
              <caption>Deliveries</caption>
              <thead>
                <tr>
                  <th scope="col">Destination</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last error</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(r.deliveries).map(([d, v]) => (
                  <tr>
                    <th scope="row">{d}</th>
                    <td>{v.status}</td>
                    <td>{v.attempts}</td>
                    <td>{v.lastError ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      {lifecycle.error && <p class="refusal">{lifecycle.error}</p>}
      {l?.lifecycle && (
        <section aria-labelledby="lc-title">
          <h2 id="lc-title">Lifecycle {l.lifecycle.name}</h2>
          {operator && (
            <p>
              <label for="decision-comment">Comment for an approval or rejection</label>
              <input
                id="decision-comment"
                maxLength={1000}
                value={comment}
                onInput={(e) => setComment((e.target as HTMLInputElement).value)}
              />
            </p>
          )}
          {mode.data !== 'tenanted' && tenantPhases.length > 0 && <h3>Without a tenant</h3>}
          <ol class="phases" hidden={mode.data === 'tenanted' && tenantPhases.length > 0}>
            {l.lifecycle.phases.map((p) => (
              <li class={`phase ${p.state}`} data-phase={p.name} data-state={p.state}>
                <strong>{p.name}</strong> <span class="badge">{p.state}</span>{' '}
                <span class="hint">
                  {p.succeeded}/{p.needed} succeeded
                </span>
                {operator && p.state === 'awaiting-approval' && (
                  <span class="actions">
                    <Action label={`Approve ${p.name}`} run={decide(p.name, 'approve')} />
                    <Action label={`Reject ${p.name}`} run={decide(p.name, 'reject')} danger />
                  </span>
                )}
              </li>
            ))}
          </ol>
          {tenantPhases.length > 0 && (
            <table class="list tenant-phases" data-testid="tenant-phases">
              <caption>Each tenant's way through the phases</caption>
              <thead>
                <tr>
                  <th scope="col">Tenant</th>
                  {l.lifecycle.phases.map((p) => (
                    <th scope="col">
                      {p.name}
                      {operator && forAll(p.name) && (
                        <span class="actions">
                          <Action
                            label={`Approve ${p.name} for every tenant`}
                            run={decide(p.name, 'approve')}
                          />
                        </span>
                      )}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {tenantPhases.map((t) => (
                  <tr data-tenant={t.tenant}>
                    <th scope="row">{t.tenant}</th>
                    {t.phases.map((p) => (
                      <td class={`phase ${p.state}`} data-phase={p.name} data-state={p.state}>
                        <span class="badge">{p.state}</span>{' '}
                        <span class="hint">
                          {p.succeeded}/{p.needed}
                        </span>
                        {operator && p.state === 'awaiting-approval' && (
                          <span class="actions">
                            <Action
                              label={`Approve ${p.name} for ${t.tenant}`}
                              run={decide(p.name, 'approve', t.tenant)}
                            />
                            <Action
                              label={`Reject ${p.name} for ${t.tenant}`}
                              run={decide(p.name, 'reject', t.tenant)}
                              danger
                            />
                          </span>
                        )}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
      {envs.data && operator && !tenanted && mode.data && (
        <section aria-labelledby="deploy-title">
          <h2 id="deploy-title">Deploy</h2>
          <ul class="deploy">
            {envs.data.map((e) => (
              <li data-environment={e.name}>
                <strong>{e.name}</strong> <span class="hint">now: {e.current?.release ?? 'nothing'}</span>{' '}
                {e.freeze && (
                  <span class="badge frozen">
                    frozen by {e.freeze.name} until {utc(e.freeze.until)}
                  </span>
                )}{' '}
                {newerThere(e.name) ? (
                  <Action
                    label={`Roll back ${e.name} to ${number}`}
                    run={deploy(e.name, true)}
                    danger
                    confirm={`A newer release is deployed in ${e.name}: deploy ${number} there anyway (force)?`}
                  />
                ) : (
                  <Action
                    label={e.current?.release === number ? `Redeploy to ${e.name}` : `Deploy to ${e.name}`}
                    run={deploy(e.name)}
                  />
                )}
              </li>
            ))}
          </ul>
        </section>
      )}
      {envs.data && operator && mode.data && (
        <DeployForm
          api={api}
          project={project}
          number={number}
          environments={envs.data}
          tenanted={tenanted}
          untenanted={mode.data !== 'tenanted'}
          onDone={lifecycle.reload}
        />
      )}
      {l && (
        <section aria-labelledby="tl-title">
          <h2 id="tl-title">Deployments</h2>
          <ol class="timeline">
            {l.deployments.map((d) => (
              <li data-deployment={d.id} data-state={d.status} data-tenant={d.tenant ?? ''}>
                <strong>{d.environment}</strong>
                {d.tenant && <span class="tenant"> for {d.tenant}</span>}{' '}
                <span class={`badge ${d.status}`}>{d.status}</span>
                {d.forced && ' (rollback)'} by {d.requestedBy}, queued {age(d.queuedAt)}
                {d.finishedAt && `, finished ${age(d.finishedAt)}`}
                {d.status === 'scheduled' && <span class="when"> {scheduleText(d)}</span>}
                {d.error && <span class="refusal"> {d.error}</span>}
                {operator && ['scheduled', 'queued', 'retrying'].includes(d.status) && (
                  <Action
                    label={`Cancel ${d.environment}${d.tenant ? ` for ${d.tenant}` : ''}`}
                    run={cancel(d.environment, d.tenant)}
                    danger
                  />
                )}
              </li>
            ))}
          </ol>
          {l.approvals.length > 0 && (
            <ul class="approvals">
              {l.approvals.map((a) => (
                <li>
                  {a.phase}
                  {tenanted && (a.tenant ? ` for ${a.tenant}` : ' for every tenant')}: {a.decision} by {a.by}:
                  “{a.comment}”
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </section>
  );
}
