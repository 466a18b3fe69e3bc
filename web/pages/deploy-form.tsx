import { useState } from 'preact/hooks';
import type { Api } from '../api';
import { reasonOf } from '../api';
import { useLoad } from '../live';
import { utc } from '../format';
import { ProjectEnvironment } from '../tenants';

/** The browser's own time zone, named (`Europe/Berlin`), for the person reading the form. */
function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'local time';
}

/**
 * A `datetime-local` value (the person's wall clock, no offset) as an instant, or null when empty or not a
 * time. The browser reads it in its own zone; the request carries the UTC instant, so what the API checks
 * and records is what the person sees as its UTC equivalent.
 */
export function localToInstant(value: string): string | null {
  if (!value) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/** A time field with what it means in UTC beside it. */
function TimeField(props: { id: string; label: string; value: string; set: (v: string) => void }) {
  const instant = localToInstant(props.value);
  return (
    <>
      <label for={props.id}>{props.label}</label>
      <span>
        <input
          id={props.id}
          type="datetime-local"
          value={props.value}
          aria-describedby={`${props.id}-utc`}
          onInput={(e) => props.set((e.target as HTMLInputElement).value)}
        />{' '}
        <span id={`${props.id}-utc`} class="utc" data-testid={`${props.id}-utc`}>
          {instant ? `your time (${localZone()}); ${utc(instant)}` : `your time (${localZone()})`}
        </span>
      </span>
    </>
  );
}

/**
 * Deploy a release now or at a chosen time, to an environment and (a tenanted project) to the tenants picked
 * by name or by tag, as the API's deploy request takes them. The API checks everything (the lifecycle, a
 * freeze, the times) and its reason shows here.
 */
export function DeployForm(props: {
  api: Api;
  project: string;
  number: string;
  environments: readonly ProjectEnvironment[];
  /** The project deploys to tenants (only, or beside the untenanted deployments). */
  tenanted: boolean;
  /** The project deploys without tenants too. */
  untenanted: boolean;
  onDone: () => void;
}) {
  const { api, project, number, environments } = props;
  const [environment, setEnvironment] = useState(environments[0]?.name ?? '');
  const [tenants, setTenants] = useState<ReadonlySet<string>>(new Set());
  const [tags, setTags] = useState<ReadonlySet<string>>(new Set());
  const [deployAt, setDeployAt] = useState('');
  const [expiry, setExpiry] = useState('');
  const [refusal, setRefusal] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const known = useLoad(async () => {
    if (!props.tenanted) return [];
    const { data, error, response } = await api.GET('/tenants');
    if (!data) throw new Error(reasonOf(error, response));
    return data.tenants;
  }, [props.tenanted]);
  const connected = (environments.find((e) => e.name === environment)?.tenants ?? []).map((l) => l.tenant);
  const tagsThere = [
    ...new Set((known.data ?? []).filter((t) => connected.includes(t.spec.name)).flatMap((t) => t.spec.tags)),
  ].sort();
  const toggle = (set: ReadonlySet<string>, item: string, on: boolean) => {
    const next = new Set(set);
    if (on) next.add(item);
    else next.delete(item);
    return next;
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setRefusal(null);
    setDone(null);
    const at = localToInstant(deployAt);
    const until = localToInstant(expiry);
    const chosen = [...tenants].filter((t) => connected.includes(t));
    const chosenTags = [...tags].filter((t) => tagsThere.includes(t));
    setBusy(true);
    const { data, error, response } = await api.POST('/projects/{project}/releases/{number}/deployments', {
      params: { path: { project, number } },
      body: {
        environment,
        ...(chosen.length > 0 ? { tenants: chosen } : {}),
        ...(chosenTags.length > 0 ? { tenantTags: chosenTags } : {}),
        ...(at ? { deployAt: at } : {}),
        ...(until ? { deployAtExpiry: until } : {}),
      },
    });
    setBusy(false);
    props.onDone();
    if (!data) return setRefusal(reasonOf(error, response));
    const list = 'deployments' in data ? data.deployments : [data];
    const who = list.map((d) => (d.tenant ? `${d.environment} for ${d.tenant}` : d.environment)).join(', ');
    setDone(`${at ? 'Scheduled' : 'Asked'}: ${who}.`);
    setTenants(new Set());
    setTags(new Set());
  };
  return (
    <section aria-labelledby="df-title">
      <h2 id="df-title">{props.tenanted ? 'Deploy to tenants, or schedule' : 'Schedule a deployment'}</h2>
      <form onSubmit={submit} class="deploy-form" data-testid="deploy-form">
        <label for="df-environment">Environment</label>
        <select
          id="df-environment"
          value={environment}
          onChange={(e) => setEnvironment((e.target as HTMLSelectElement).value)}
        >
          {environments.map((env) => (
            <option value={env.name}>{env.name}</option>
          ))}
        </select>
        {props.tenanted && (
          <fieldset>
            <legend>
              Tenants connected to {environment}
              {props.untenanted ? ' (none picked: the deployment without a tenant)' : ''}
            </legend>
            {connected.length === 0 && <p class="hint">No tenant is connected to {environment}.</p>}
            {connected.map((t) => (
              <label class="choice">
                <input
                  type="checkbox"
                  checked={tenants.has(t)}
                  onChange={(e) => setTenants(toggle(tenants, t, (e.target as HTMLInputElement).checked))}
                />
                {t}
              </label>
            ))}
          </fieldset>
        )}
        {props.tenanted && tagsThere.length > 0 && (
          <fieldset>
            <legend>Or the connected tenants with these tags (one of each tag set)</legend>
            {tagsThere.map((t) => (
              <label class="choice">
                <input
                  type="checkbox"
                  checked={tags.has(t)}
                  onChange={(e) => setTags(toggle(tags, t, (e.target as HTMLInputElement).checked))}
                />
                {t}
              </label>
            ))}
          </fieldset>
        )}
        <TimeField id="df-at" label="Deploy at (empty: now)" value={deployAt} set={setDeployAt} />
        <TimeField id="df-expiry" label="Cancel if not started by" value={expiry} set={setExpiry} />
        <span class="actions">
          <button type="submit" disabled={busy}>
            {deployAt ? `Schedule ${number}` : `Deploy ${number} now`}
          </button>
        </span>
      </form>
      {refusal && (
        <p role="alert" class="refusal">
          {refusal}
        </p>
      )}
      {done && (
        <p role="status" class="hint">
          {done}
        </p>
      )}
    </section>
  );
}
