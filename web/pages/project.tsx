import { Pager } from '../pager';
import { useRef, useState } from 'preact/hooks';
import type { PageProps } from '../main';
import { may, reasonOf } from '../api';
import { useLoad } from '../live';
import { age, route, temporalLink } from '../format';

type Spec = {
  packages?: { name: string; feed: string; package: string }[];
  channels?: { name: string; lifecycle?: string; rules?: Record<string, unknown>[] }[];
  environments?: { name: string }[];
  tenantedDeployments?: 'untenanted' | 'tenanted' | 'tenantedOrUntenanted';
  tenants?: { tenant: string; environments: string[] }[];
};
type PackageStatus = {
  latest: { tag: string; digest: string | null } | null;
  polledAt: string | null;
  error: { message?: string } | null;
};
type TriggerDetail = {
  id: string;
  status: string;
  paused: boolean;
  spec: { name: string; channel: string; description?: string; watch?: string[]; intervalSeconds: number };
  packages?: Record<string, PackageStatus>;
  history: { at: string; outcome: string; reason: string; release: string | null; source?: string }[];
  lastPoll: { at: string; outcome: string; reason: string } | null;
  retrying: { package?: string; reason?: string }[];
};

/** Text of a rule: its fields as `key value`, never markup. */
function ruleText(rule: Record<string, unknown>): string {
  return Object.entries(rule)
    .map(([k, v]) => `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ');
}

/** One action button whose refusal shows the API's reason next to it. */
export function Action(props: {
  label: string;
  run: () => Promise<string | null>;
  danger?: boolean;
  /** Asked in place before running (a rollback's force): the action runs only on "Confirm". */
  confirm?: string;
}) {
  const [refusal, setRefusal] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(false);
  const run = async () => {
    setAsking(false);
    setBusy(true);
    setRefusal(await props.run().catch((err: unknown) => String(err)));
    setBusy(false);
  };
  return (
    <span class="action">
      <button
        type="button"
        class={props.danger ? 'danger' : undefined}
        disabled={busy}
        aria-expanded={props.confirm ? asking : undefined}
        onClick={() => (props.confirm ? setAsking(!asking) : run())}
      >
        {props.label}
      </button>
      {asking && (
        <span class="confirm" role="group" aria-label="Confirm">
          {props.confirm}{' '}
          <button type="button" class="danger" onClick={run}>
            Confirm
          </button>
        </span>
      )}
      {refusal && (
        <span role="alert" class="refusal">
          {refusal}
        </span>
      )}
    </span>
  );
}

function TriggerCard({ api, session, project, name }: PageProps & { project: string; name: string }) {
  const detail = useLoad(async () => {
    const { data, error, response } = await api.GET('/triggers/{project}/{name}', {
      params: { path: { project, name } },
    });
    if (!data) throw new Error(reasonOf(error, response));
    return data as unknown as TriggerDetail;
  }, [project, name]);
  const t = detail.data;
  const act = (action: 'pause' | 'resume' | 'poll') => async () => {
    const path = `/triggers/{project}/{name}/${action}` as const;
    const { error, response } = await api.POST(path, { params: { path: { project, name } } });
    detail.reload();
    return response.ok ? null : reasonOf(error, response);
  };
  const link = temporalLink(session.temporalUi, `trigger/${project}/${name}`);
  const next =
    t?.lastPoll && !t.paused
      ? new Date(Date.parse(t.lastPoll.at) + t.spec.intervalSeconds * 1000).toISOString()
      : null;
  return (
    <article class="trigger" data-trigger={name} aria-labelledby={`trigger-${name}`}>
      <h3 id={`trigger-${name}`}>
        {name} <span class={`badge ${t?.status ?? 'unknown'}`}>{t?.status ?? '…'}</span>
      </h3>
      {detail.error && <p class="refusal">{detail.error}</p>}
      {t && (
        <>
          {t.spec.description && <p class="description">{t.spec.description}</p>}
          <dl>
            <dt>Channel</dt>
            <dd>{t.spec.channel}</dd>
            <dt>Watches</dt>
            <dd>{(t.spec.watch ?? ['all packages']).join(', ')}</dd>
            <dt>Last poll</dt>
            <dd>
              {t.lastPoll ? `${age(t.lastPoll.at)}: ${t.lastPoll.outcome}, ${t.lastPoll.reason}` : 'not yet'}
            </dd>
            <dt>Next poll</dt>
            <dd>
              {t.paused
                ? 'paused'
                : next
                  ? `every ${t.spec.intervalSeconds} s, next ${new Date(next).toLocaleTimeString()}`
                  : 'soon'}
            </dd>
          </dl>
          {t.packages && Object.keys(t.packages).length > 0 && (
            <table class="small">
              <caption>Watched versions</caption>
              <thead>
                <tr>
                  <th scope="col">Package</th>
                  <th scope="col">Latest passing</th>
                  <th scope="col">Polled</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(t.packages).map(([pkg, s]) => (
                  <tr>
                    <th scope="row">{pkg}</th>
                    <td class="mono">{s.latest?.tag ?? '—'}</td>
                    <td>{age(s.polledAt)}</td>
                    <td>{s.error?.message ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {t.retrying.length > 0 && (
            <p class="warning">
              Retrying: {t.retrying.map((r) => `${r.package ?? ''} ${r.reason ?? ''}`).join('; ')}
            </p>
          )}
          <div class="actions">
            {may(session, 'operator') &&
              (t.paused ? (
                <Action label="Resume" run={act('resume')} />
              ) : (
                <Action label="Pause" run={act('pause')} />
              ))}
            {may(session, 'operator') && <Action label="Poll now" run={act('poll')} />}
            {link && (
              <a href={link} target="_blank" rel="noopener noreferrer">
                Temporal Web UI
              </a>
            )}
          </div>
          <details>
            <summary>History ({t.history.length})</summary>
            <ol class="history">
              {[...t.history].reverse().map((h) => (
                <li>
                  <time dateTime={h.at}>{age(h.at)}</time> <strong>{h.outcome}</strong> {h.reason}
                  {h.source ? ` (${h.source})` : ''}
                  {h.release && (
                    <>
                      {' '}
                      → <a href={route('projects', project, 'releases', h.release)}>release {h.release}</a>
                    </>
                  )}
                </li>
              ))}
            </ol>
          </details>
        </>
      )}
    </article>
  );
}

/** Octopus's steps: name and description → channel → sources → preview → create. */
function NewTriggerDialog({
  api,
  project,
  spec,
  onCreated,
}: {
  api: PageProps['api'];
  project: string;
  spec: Spec;
  onCreated: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [step, setStep] = useState(0);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [channel, setChannel] = useState(spec.channels?.[0]?.name ?? 'default');
  const packages = (spec.packages ?? []).map((p) => p.name);
  const [watch, setWatch] = useState<string[]>(packages);
  const [preview, setPreview] = useState<Record<string, unknown> | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const steps = ['Name', 'Channel', 'Sources', 'Preview'];
  const open = () => {
    setStep(0);
    setRefusal(null);
    setPreview(null);
    dialog.current?.showModal();
  };
  const loadPreview = async () => {
    setPreview(null);
    const { data, error, response } = await api.GET('/projects/{project}/channels/{channel}/preview', {
      params: { path: { project, channel } },
    });
    if (!data) return setRefusal(reasonOf(error, response));
    setPreview(data.packages);
  };
  const goto = async (n: number) => {
    setRefusal(null);
    if (n === 1 && !/^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/.test(name))
      return setRefusal('a trigger name is lower-case letters, digits, ".", "_" and "-"');
    if (n === 3 && watch.length === 0) return setRefusal('choose at least one package');
    setStep(n);
    if (n === 3) await loadPreview();
  };
  const create = async () => {
    const { error, response } = await api.POST('/projects/{project}/triggers', {
      params: { path: { project } },
      body: { project, name, channel, watch, ...(description ? { description } : {}) },
    });
    if (!response.ok) return setRefusal(reasonOf(error, response));
    dialog.current?.close();
    setName('');
    setDescription('');
    onCreated();
  };
  return (
    <>
      <button type="button" onClick={open}>
        New trigger
      </button>
      <dialog ref={dialog} aria-labelledby="nt-title" class="wizard">
        <h2 id="nt-title">New trigger for {project}</h2>
        <ol class="steps" aria-label="Steps">
          {steps.map((s, i) => (
            <li aria-current={i === step ? 'step' : undefined}>{s}</li>
          ))}
        </ol>
        <form method="dialog" onSubmit={(e) => e.preventDefault()}>
          {step === 0 && (
            <fieldset>
              <legend>Name and description</legend>
              <label for="nt-name">Name</label>
              <input
                id="nt-name"
                value={name}
                maxLength={63}
                onInput={(e) => setName((e.target as HTMLInputElement).value)}
              />
              <label for="nt-description">Description</label>
              <textarea
                id="nt-description"
                maxLength={1000}
                value={description}
                onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)}
              />
            </fieldset>
          )}
          {step === 1 && (
            <fieldset>
              <legend>Channel</legend>
              {(spec.channels ?? [{ name: 'default' }]).map((c) => (
                <label class="choice">
                  <input
                    type="radio"
                    name="nt-channel"
                    value={c.name}
                    checked={channel === c.name}
                    onChange={() => setChannel(c.name)}
                  />
                  {c.name}
                  {c.rules && c.rules.length > 0 && (
                    <span class="hint"> {c.rules.map(ruleText).join('; ')}</span>
                  )}
                </label>
              ))}
            </fieldset>
          )}
          {step === 2 && (
            <fieldset>
              <legend>Sources: the packages whose new versions start a release</legend>
              {(spec.packages ?? []).map((p) => (
                <label class="choice">
                  <input
                    type="checkbox"
                    checked={watch.includes(p.name)}
                    onChange={(e) =>
                      setWatch((w) =>
                        (e.target as HTMLInputElement).checked
                          ? [...w, p.name]
                          : w.filter((x) => x !== p.name),
                      )
                    }
                  />
                  {p.name} <span class="hint">{`${p.feed} ${p.package}`}</span>
                </label>
              ))}
            </fieldset>
          )}
          {step === 3 && (
            <fieldset>
              <legend>What the rules of {channel} select now</legend>
              {!preview && !refusal && <p>Reading the feeds…</p>}
              {preview && (
                <table class="small" data-testid="preview">
                  <thead>
                    <tr>
                      <th scope="col">Package</th>
                      <th scope="col">Selected</th>
                      <th scope="col">Watched</th>
                    </tr>
                  </thead>
                  <tbody>
                    {Object.entries(preview).map(([pkg, v]) => (
                      <tr>
                        <th scope="row">{pkg}</th>
                        <td class="mono">
                          {String((v as { selected?: unknown })?.selected ?? 'nothing passes')}
                          {/* Versions above it that signature, provenance or platform rules refused, and why. */}
                          {((v as { skipped?: { tag: string; reason: string }[] })?.skipped ?? []).map(
                            (s) => (
                              <div class="small" data-testid="preview-skipped">
                                skipped {s.tag}: {s.reason}
                              </div>
                            ),
                          )}
                        </td>
                        <td>{watch.includes(pkg) ? 'yes' : 'no'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </fieldset>
          )}
          {refusal && (
            <p role="alert" class="refusal">
              {refusal}
            </p>
          )}
          <div class="actions">
            <button type="button" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
            {step > 0 && (
              <button type="button" onClick={() => goto(step - 1)}>
                Back
              </button>
            )}
            {step < 3 && (
              <button type="button" onClick={() => goto(step + 1)}>
                Next
              </button>
            )}
            {step === 3 && (
              <button type="button" class="primary" onClick={create}>
                Create
              </button>
            )}
          </div>
        </form>
      </dialog>
    </>
  );
}

/** How a project deploys, in words. */
const MODE_TEXT = {
  untenanted: 'without tenants',
  tenanted: 'to tenants only',
  tenantedOrUntenanted: 'to tenants, and without a tenant',
} as const;

/** Which tenants the project connects to which of its environments (a tenant × environment table). */
function TenantConnections({ spec }: { spec: Spec }) {
  const environments = (spec.environments ?? []).map((e) => e.name);
  const connections = spec.tenants ?? [];
  return (
    <section aria-labelledby="tc-title">
      <h2 id="tc-title">Tenants</h2>
      <p>Deploys {MODE_TEXT[spec.tenantedDeployments ?? 'untenanted']}.</p>
      {connections.length > 0 && (
        <table class="list" data-testid="tenant-connections">
          <caption>Tenants connected to environments</caption>
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              {environments.map((e) => (
                <th scope="col">{e}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {connections.map((c) => (
              <tr data-tenant={c.tenant}>
                <th scope="row">{c.tenant}</th>
                {environments.map((e) => (
                  <td data-environment={e} data-connected={String(c.environments.includes(e))}>
                    {c.environments.includes(e) ? 'connected' : '—'}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** A project: packages, channels and rules, triggers, releases (filtered, paged). */
export function ProjectPage({ api, session, project }: PageProps & { project: string }) {
  const [filters, setFilters] = useState({ channel: '', package: '', version: '' });
  const [cursors, setCursors] = useState<string[]>([]);
  const info = useLoad(async () => {
    const { data, error, response } = await api.GET('/projects/{project}', { params: { path: { project } } });
    if (!data) throw new Error(reasonOf(error, response));
    return data;
  }, [project]);
  const triggers = useLoad(async () => {
    const { data, error, response } = await api.GET('/projects/{project}/triggers', {
      params: { path: { project } },
    });
    if (!data) throw new Error(reasonOf(error, response));
    return (data as { triggers: { name: string }[] }).triggers;
  }, [project]);
  const cursor = cursors[cursors.length - 1];
  const releases = useLoad(async () => {
    const { data, error, response } = await api.GET('/projects/{project}/releases', {
      params: {
        path: { project },
        query: {
          limit: 20,
          ...(filters.channel ? { channel: filters.channel } : {}),
          ...(filters.package ? { package: filters.package } : {}),
          ...(filters.version ? { version: filters.version } : {}),
          ...(cursor ? { cursor } : {}),
        },
      },
    });
    if (!data) throw new Error(reasonOf(error, response));
    return data;
  }, [project, filters, cursor]);
  const spec = (info.data?.spec ?? {}) as Spec;
  const setFilter = (key: keyof typeof filters) => (e: Event) => {
    setCursors([]);
    setFilters({ ...filters, [key]: (e.target as HTMLInputElement).value });
  };
  return (
    <section aria-labelledby="project-title">
      <h1 id="project-title">{project}</h1>
      {info.error && (
        <p role="alert" class="refusal">
          {info.error}
        </p>
      )}
      <div class="columns">
        <section aria-labelledby="pk-title">
          <h2 id="pk-title">Packages</h2>
          <ul>
            {(spec.packages ?? []).map((p) => (
              <li>
                <strong>{p.name}</strong> <span class="mono">{`${p.feed} ${p.package}`}</span>
              </li>
            ))}
          </ul>
        </section>
        <section aria-labelledby="ch-title">
          <h2 id="ch-title">Channels</h2>
          <ul>
            {(spec.channels ?? []).map((c) => (
              <li>
                <strong>{c.name}</strong>
                {c.lifecycle && ` (lifecycle ${c.lifecycle})`}
                <ul>
                  {(c.rules ?? []).map((r) => (
                    <li class="mono">{ruleText(r)}</li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        </section>
      </div>
      {info.data && (spec.tenantedDeployments ?? 'untenanted') !== 'untenanted' && (
        <TenantConnections spec={spec} />
      )}
      <section aria-labelledby="tr-title">
        <h2 id="tr-title">Triggers</h2>
        {may(session, 'admin') && info.data && (
          <NewTriggerDialog api={api} project={project} spec={spec} onCreated={triggers.reload} />
        )}
        {triggers.error && <p class="refusal">{triggers.error}</p>}
        {(triggers.data ?? []).map((t) => (
          <TriggerCard key={t.name} api={api} session={session} project={project} name={t.name} />
        ))}
      </section>
      <section aria-labelledby="rel-title">
        <h2 id="rel-title">Releases</h2>
        <div class="filters">
          <label for="rf-channel">Channel</label>
          <select id="rf-channel" value={filters.channel} onChange={setFilter('channel')}>
            <option value="">any</option>
            {(spec.channels ?? []).map((c) => (
              <option value={c.name}>{c.name}</option>
            ))}
          </select>
          <label for="rf-package">Package</label>
          <input id="rf-package" value={filters.package} onChange={setFilter('package')} />
          <label for="rf-version">Version</label>
          <input id="rf-version" value={filters.version} onChange={setFilter('version')} />
        </div>
        {releases.error && (
          <p role="alert" class="refusal">
            {releases.error}
          </p>
        )}
        <table class="list" data-testid="releases">
          <thead>
            <tr>
              <th scope="col">Release</th>
              <th scope="col">Channel</th>
              <th scope="col">Packages</th>
              <th scope="col">Why</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {(releases.data?.releases ?? []).map((r) => (
              <tr data-release={r.number}>
                <th scope="row">
                  <a href={route('projects', project, 'releases', r.number)}>{r.number}</a>
                </th>
                <td>{r.channel}</td>
                <td class="mono">{r.packages.map((p) => `${p.name} ${p.tag}`).join(', ')}</td>
                <td>{r.reason}</td>
                <td>{age(r.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <Pager cursors={cursors} setCursors={setCursors} next={releases.data?.nextCursor} />
      </section>
    </section>
  );
}
