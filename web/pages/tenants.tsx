import { useState } from 'preact/hooks';
import type { PageProps } from '../main';
import { may, reasonOf } from '../api';
import { useLoad } from '../live';
import { age, route } from '../format';
import { listOf } from '../tenants';
import { Action } from './project';

const EMPTY = { name: '', description: '', tags: '' };
/**
 * A tenant's name as the API takes it (src/domain/tenant.ts), checked before it goes into the request's path:
 * a long hostile name would make the URL too long for the server to answer with a reason.
 */
const TENANT_NAME = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;

/**
 * Tenants (customers, regions, shards): everyone reads them with the projects that connect each; admins
 * create, change and delete them. The API checks every field and names the bad one; the form only sends.
 */
export function TenantsPage({ api, session }: PageProps) {
  const admin = may(session, 'admin');
  const [form, setForm] = useState(EMPTY);
  // The tenant being changed: its name is the resource's, so the form keeps it fixed.
  const [editing, setEditing] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const tenants = useLoad(async () => {
    const { data, error, response } = await api.GET('/tenants');
    if (!data) throw new Error(reasonOf(error, response));
    return data.tenants;
  }, []);
  const field = (key: keyof typeof EMPTY) => ({
    id: `tn-${key}`,
    value: form[key],
    onInput: (e: Event) => setForm({ ...form, [key]: (e.target as HTMLInputElement).value }),
  });
  const reset = () => {
    setForm(EMPTY);
    setEditing(null);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    setRefusal(null);
    setSaved(null);
    const name = (editing ?? form.name).trim();
    if (!name) return setRefusal('name: give the tenant a name');
    if (!TENANT_NAME.test(name))
      return setRefusal(
        'name: at most 63 lower-case letters, digits, ".", "_" and "-", starting and ending with a letter or digit',
      );
    const { data, error, response } = await api.PUT('/tenants/{name}', {
      params: { path: { name } },
      body: { name, description: form.description.trim(), tags: listOf(form.tags) },
    });
    if (!data) return setRefusal(reasonOf(error, response));
    setSaved(`${data.created ? 'Created' : 'Saved'} ${name}.`);
    reset();
    tenants.reload();
  };
  return (
    <section aria-labelledby="tn-title">
      <h1 id="tn-title">Tenants</h1>
      <p class="hint">
        A tenant is a customer, a region or a shard a project deploys to separately. Projects connect tenants
        to their environments; a deployment then goes to an environment for a tenant.
      </p>
      {tenants.error && (
        <p role="alert" class="refusal">
          {tenants.error}
        </p>
      )}
      {tenants.data && tenants.data.length === 0 && <p>No tenant.</p>}
      {tenants.data && tenants.data.length > 0 && (
        <table class="list" data-testid="tenants">
          <caption>Tenants</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Description</th>
              <th scope="col">Tags</th>
              <th scope="col">Projects</th>
              <th scope="col">Changed</th>
              {admin && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {tenants.data.map((t) => (
              <tr data-tenant={t.spec.name}>
                <th scope="row">{t.spec.name}</th>
                <td class="description">{t.spec.description}</td>
                <td class="tags">
                  {t.spec.tags.map((tag) => (
                    <span class="badge tag">{tag}</span>
                  ))}
                </td>
                <td class="projects">
                  {t.projects.length === 0
                    ? '—'
                    : t.projects.map((p, i) => (
                        <>
                          {i > 0 && ', '}
                          <a href={route('projects', p)}>{p}</a>
                        </>
                      ))}
                </td>
                <td>
                  {t.createdBy}, {age(t.updatedAt)}
                </td>
                {admin && (
                  <td>
                    <span class="actions">
                      <button
                        type="button"
                        onClick={() => {
                          setRefusal(null);
                          setSaved(null);
                          setEditing(t.spec.name);
                          setForm({
                            name: t.spec.name,
                            description: t.spec.description,
                            tags: t.spec.tags.join(', '),
                          });
                        }}
                      >
                        Edit {t.spec.name}
                      </button>
                      <Action
                        label={`Delete tenant ${t.spec.name}`}
                        danger
                        confirm="Only a tenant no project connects can go."
                        run={async () => {
                          const { error, response } = await api.DELETE('/tenants/{name}', {
                            params: { path: { name: t.spec.name } },
                          });
                          tenants.reload();
                          return response.ok ? null : reasonOf(error, response);
                        }}
                      />
                    </span>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin && (
        <section aria-labelledby="tn-new">
          <h2 id="tn-new">{editing ? `Change tenant ${editing}` : 'New tenant'}</h2>
          <form onSubmit={save} class="freeze-form tenant-form">
            <label for="tn-name">Name</label>
            <input {...field('name')} disabled={editing !== null} autocomplete="off" />
            <label for="tn-description">Description</label>
            <input {...field('description')} />
            <label for="tn-tags">Tags (tag-set/tag, comma-separated)</label>
            <input {...field('tags')} placeholder="region/eu, tier/gold" />
            <span class="actions">
              <button type="submit">Save tenant</button>
              {editing && (
                <button type="button" onClick={reset}>
                  Cancel change
                </button>
              )}
            </span>
          </form>
          {refusal && (
            <p role="alert" class="refusal">
              {refusal}
            </p>
          )}
          {saved && (
            <p role="status" class="hint">
              {saved}
            </p>
          )}
        </section>
      )}
    </section>
  );
}
