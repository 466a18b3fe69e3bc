import { useState } from 'preact/hooks';
import type { PageProps } from '../main';
import { may, reasonOf } from '../api';
import { useLoad } from '../live';
import { age, utc } from '../format';
import { Action } from './project';

type Recurrence = {
  every: 'daily' | 'weekly' | 'monthly';
  days?: string[];
  dayOfMonth?: number;
  from: string;
  until: string;
};

/** When a freeze holds, as its spec says it: on its time zone's wall clock. */
export function freezeWhen(spec: { start?: string; end?: string; recurring?: Recurrence }): string {
  const r = spec.recurring;
  if (!r) return `${spec.start ?? '?'} to ${spec.end ?? '?'}`;
  const on = r.days
    ? ` on ${r.days.join(', ')}`
    : r.dayOfMonth !== undefined
      ? ` on day ${r.dayOfMonth}`
      : '';
  return `${r.every}${on}, ${r.from} to ${r.until}`;
}

/** A comma-separated field as a list; absent when empty (the freeze then covers all). */
function listOf(text: string): string[] | undefined {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return items.length > 0 ? items : undefined;
}

const EMPTY = {
  name: '',
  description: '',
  timeZone: 'UTC',
  repeats: 'once' as 'once' | Recurrence['every'],
  start: '',
  end: '',
  days: '',
  dayOfMonth: '',
  from: '',
  until: '',
  projects: '',
  environments: '',
  tenants: '',
};

/** The freeze a form describes, as the API takes it (the API validates every field and names a bad one). */
function freezeBody(f: typeof EMPTY) {
  const scope = {
    ...(listOf(f.projects) ? { projects: listOf(f.projects) } : {}),
    ...(listOf(f.environments) ? { environments: listOf(f.environments) } : {}),
    ...(listOf(f.tenants) ? { tenants: listOf(f.tenants) } : {}),
  };
  const base = {
    name: f.name.trim(),
    ...(f.description.trim() ? { description: f.description.trim() } : {}),
    timeZone: f.timeZone.trim(),
    ...scope,
  };
  if (f.repeats === 'once') return { ...base, start: f.start.trim(), end: f.end.trim() };
  const recurring: Recurrence = { every: f.repeats, from: f.from.trim(), until: f.until.trim() };
  if (f.repeats === 'weekly') recurring.days = listOf(f.days) ?? [];
  if (f.repeats === 'monthly') recurring.dayOfMonth = Number(f.dayOfMonth.trim());
  return { ...base, recurring };
}

/** Deployment freezes: every role sees them; admins create and delete them. */
export function FreezesPage({ api, session }: PageProps) {
  const admin = may(session, 'admin');
  const [form, setForm] = useState(EMPTY);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const freezes = useLoad(async () => {
    const { data, error, response } = await api.GET('/freezes');
    if (!data) throw new Error(reasonOf(error, response));
    return data.freezes;
  }, []);
  const field = (key: keyof typeof EMPTY) => ({
    id: `fz-${key}`,
    value: form[key],
    onInput: (e: Event) => setForm({ ...form, [key]: (e.target as HTMLInputElement).value }),
  });
  const save = async (e: Event) => {
    e.preventDefault();
    setRefusal(null);
    setSaved(null);
    const body = freezeBody(form);
    if (!body.name) return setRefusal('name: give the freeze a name');
    const { data, error, response } = await api.PUT('/freezes/{name}', {
      params: { path: { name: body.name } },
      // The API checks what the form could not (a slug, a zone, a date on the calendar) and names the field.
      body: body as never,
    });
    if (!data) return setRefusal(reasonOf(error, response));
    setSaved(data.freeze.spec.name);
    setForm(EMPTY);
    freezes.reload();
  };
  return (
    <section aria-labelledby="fz-title">
      <h1 id="fz-title">Freezes</h1>
      <p class="hint">
        While a freeze is active nothing deploys to the projects and environments it covers: automatic phases
        and scheduled deployments wait, a person's deployment is refused unless an admin overrides it.
      </p>
      {freezes.error && (
        <p role="alert" class="refusal">
          {freezes.error}
        </p>
      )}
      {freezes.data && freezes.data.length === 0 && <p>No freeze.</p>}
      {freezes.data && freezes.data.length > 0 && (
        <table class="list">
          <caption>Deployment freezes</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">When</th>
              <th scope="col">Time zone</th>
              <th scope="col">Scope</th>
              <th scope="col">Now</th>
              <th scope="col">Window in force or next</th>
              <th scope="col">Created</th>
              {admin && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {freezes.data.map((f) => (
              <tr data-freeze={f.spec.name} data-active={String(f.active)}>
                <th scope="row">
                  {f.spec.name}
                  {f.spec.description && <span class="description"> {f.spec.description}</span>}
                </th>
                <td class="when">{freezeWhen(f.spec as { recurring?: Recurrence })}</td>
                <td>{f.spec.timeZone}</td>
                <td class="scope">
                  {(f.spec.projects ?? ['every project']).join(', ')};{' '}
                  {(f.spec.environments ?? ['every environment']).join(', ')}
                  {f.spec.tenants && `; tenants ${f.spec.tenants.join(', ')}`}
                </td>
                <td>
                  <span class={`badge ${f.active ? 'frozen' : 'idle'}`}>
                    {f.active ? 'active' : 'not now'}
                  </span>
                </td>
                <td>{f.window ? `${utc(f.window.start)} to ${utc(f.window.end)}` : 'over'}</td>
                <td>
                  {f.createdBy}, {age(f.createdAt)}
                </td>
                {admin && (
                  <td>
                    <Action
                      label={`Delete freeze ${f.spec.name}`}
                      danger
                      confirm="Deployments it holds go now."
                      run={async () => {
                        const { error, response } = await api.DELETE('/freezes/{name}', {
                          params: { path: { name: f.spec.name } },
                        });
                        freezes.reload();
                        return response.ok ? null : reasonOf(error, response);
                      }}
                    />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin && (
        <section aria-labelledby="fz-new">
          <h2 id="fz-new">New freeze</h2>
          <form onSubmit={save} class="freeze-form">
            <label for="fz-name">Name</label>
            <input {...field('name')} maxLength={63} />
            <label for="fz-description">Description</label>
            <input {...field('description')} maxLength={500} />
            <label for="fz-timeZone">Time zone</label>
            <input {...field('timeZone')} maxLength={64} placeholder="Europe/Berlin" />
            <label for="fz-repeats">Repeats</label>
            <select
              id="fz-repeats"
              value={form.repeats}
              onChange={(e) =>
                setForm({ ...form, repeats: (e.target as HTMLSelectElement).value as typeof form.repeats })
              }
            >
              <option value="once">once</option>
              <option value="daily">daily</option>
              <option value="weekly">weekly</option>
              <option value="monthly">monthly</option>
            </select>
            {form.repeats === 'once' ? (
              <>
                <label for="fz-start">Start (on the zone's clock)</label>
                <input {...field('start')} maxLength={19} placeholder="2026-12-24T00:00" />
                <label for="fz-end">End</label>
                <input {...field('end')} maxLength={19} placeholder="2027-01-02T00:00" />
              </>
            ) : (
              <>
                {form.repeats === 'weekly' && (
                  <>
                    <label for="fz-days">Days</label>
                    <input {...field('days')} placeholder="sat, sun" />
                  </>
                )}
                {form.repeats === 'monthly' && (
                  <>
                    <label for="fz-dayOfMonth">Day of the month</label>
                    <input {...field('dayOfMonth')} inputMode="numeric" />
                  </>
                )}
                <label for="fz-from">From</label>
                <input {...field('from')} maxLength={5} placeholder="18:00" />
                <label for="fz-until">Until</label>
                <input {...field('until')} maxLength={5} placeholder="08:00" />
              </>
            )}
            <label for="fz-projects">Projects (empty: every project)</label>
            <input {...field('projects')} placeholder="shop, billing" />
            <label for="fz-environments">Environments (empty: every environment)</label>
            <input {...field('environments')} placeholder="prod" />
            <label for="fz-tenants">Tenants (empty: every deployment, with a tenant or without)</label>
            <input {...field('tenants')} placeholder="acme, globex" />
            <button type="submit">Save freeze</button>
          </form>
          {refusal && (
            <p role="alert" class="refusal">
              {refusal}
            </p>
          )}
          {saved && (
            <p role="status" class="hint">
              Saved {saved}.
            </p>
          )}
        </section>
      )}
    </section>
  );
}
