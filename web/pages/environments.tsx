import type { PageProps } from '../main';
import { reasonOf } from '../api';
import { useLoad } from '../live';
import { age, route } from '../format';

/** What is deployed where, what is in flight, and each environment's latest deployment, by project. */
export function EnvironmentsPage({ api }: PageProps) {
  const overview = useLoad(async () => {
    const { data, error, response } = await api.GET('/environments');
    if (!data) throw new Error(reasonOf(error, response));
    return data.projects;
  }, []);
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
              </tr>
            </thead>
            <tbody>
              {p.environments.map((e) => (
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
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </section>
  );
}
