import { useState } from 'preact/hooks';
import type { PageProps } from '../main';
import { reasonOf } from '../api';
import { useLoad } from '../live';
import { age } from '../format';
import { Action } from './project';
import { RECEIVER_TYPES } from '../../src/domain/receiver-types';

/** A value shown once (a receiver's URL, a token) with a copy button. */
function ShownOnce({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="once" role="status">
      <p>
        {label} (shown once): <code data-testid="shown-once">{value}</code>
      </p>
      <button
        type="button"
        onClick={() =>
          navigator.clipboard.writeText(value).then(
            () => setCopied(true),
            () => setCopied(false),
          )
        }
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}

/** The key under which `/webhooks/registry`'s notifications show; no receiver name has a slash. */
const REGISTRY_ENDPOINT = '/webhooks/registry';

/** Shows or hides a receiver's (or the registry endpoint's) notifications; one list is open at a time. */
function NotificationsToggle(props: {
  name: string;
  shown: string | null;
  setShown: (name: string | null) => void;
}) {
  const open = props.shown === props.name;
  return (
    <button
      type="button"
      aria-expanded={open}
      aria-label={`${open ? 'Hide' : 'Show'} notifications of ${props.name}`}
      onClick={() => props.setShown(open ? null : props.name)}
    >
      {open ? 'Hide' : 'Show'}
    </button>
  );
}

/** A receiver's (or the registry endpoint's) last notifications, newest first, with their verdicts. */
function ReceiverNotifications({ api, name }: PageProps & { name: string }) {
  const notifications = useLoad(async () => {
    if (name === REGISTRY_ENDPOINT) {
      const { data, error, response } = await api.GET('/webhooks/registry/notifications');
      if (!data) throw new Error(reasonOf(error, response));
      return data.notifications;
    }
    const { data, error, response } = await api.GET('/receivers/{name}/notifications', {
      params: { path: { name } },
    });
    if (!data) throw new Error(reasonOf(error, response));
    return data.notifications;
  }, [name]);
  return (
    <section aria-label={`Last notifications of ${name}`} class="env-history">
      {notifications.error && (
        <p role="alert" class="refusal">
          {notifications.error}
        </p>
      )}
      {notifications.data && notifications.data.length === 0 && <p>No notification yet.</p>}
      {notifications.data && notifications.data.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Received</th>
              <th scope="col">Verdict</th>
              <th scope="col">Status</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {notifications.data.map((n) => (
              <tr data-verdict={n.verdict}>
                <td>{age(n.receivedAt)}</td>
                <td>{n.verdict}</td>
                <td>{n.status}</td>
                <td class="reason">{n.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Receivers, tokens and the audit log, for admins (the API refuses others anyway). */
export function AdminPage(props: PageProps) {
  const { api } = props;
  // The receiver whose last notifications show.
  const [shown, setShown] = useState<string | null>(null);
  const [receiver, setReceiver] = useState({
    name: '',
    type: 'distribution' as (typeof RECEIVER_TYPES)[number],
    feed: '',
    secret: '',
  });
  const [receiverUrl, setReceiverUrl] = useState<string | null>(null);
  const [token, setToken] = useState({ name: '', role: 'viewer' as 'viewer' | 'operator' | 'admin' });
  const [tokenValue, setTokenValue] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const receivers = useLoad(async () => {
    const { data, error, response } = await api.GET('/receivers');
    if (!data) throw new Error(reasonOf(error, response));
    return data.receivers;
  }, []);
  const tokens = useLoad(async () => {
    const { data, error, response } = await api.GET('/tokens');
    if (!data) throw new Error(reasonOf(error, response));
    return data.tokens;
  }, []);
  const audit = useLoad(async () => {
    const { data, error, response } = await api.GET('/audit', { params: { query: { limit: 50 } } });
    if (!data) throw new Error(reasonOf(error, response));
    return data.records;
  }, []);
  const createReceiver = async (e: Event) => {
    e.preventDefault();
    setRefusal(null);
    const { data, error, response } = await api.POST('/receivers', {
      body: {
        name: receiver.name,
        type: receiver.type,
        ...(receiver.feed ? { feed: receiver.feed } : {}),
        ...(receiver.secret ? { secret: { secret: receiver.secret } } : {}),
      },
    });
    if (!data) return setRefusal(reasonOf(error, response));
    setReceiverUrl(new URL(data.url, location.origin).href);
    receivers.reload();
  };
  const createToken = async (e: Event) => {
    e.preventDefault();
    setRefusal(null);
    const { data, error, response } = await api.POST('/tokens', {
      body: { name: token.name, role: token.role },
    });
    if (!data) return setRefusal(reasonOf(error, response));
    setTokenValue(data.token);
    tokens.reload();
  };
  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title">Admin</h1>
      {refusal && (
        <p role="alert" class="refusal">
          {refusal}
        </p>
      )}
      <section aria-labelledby="rc-title">
        <h2 id="rc-title">Receivers</h2>
        <form onSubmit={createReceiver} class="inline">
          <label for="rc-name">Name</label>
          <input
            id="rc-name"
            value={receiver.name}
            onInput={(e) => setReceiver({ ...receiver, name: (e.target as HTMLInputElement).value })}
          />
          <label for="rc-type">Type</label>
          <select
            id="rc-type"
            value={receiver.type}
            onChange={(e) =>
              setReceiver({
                ...receiver,
                type: (e.target as HTMLSelectElement).value as (typeof RECEIVER_TYPES)[number],
              })
            }
          >
            {RECEIVER_TYPES.map((t) => (
              <option value={t}>{t}</option>
            ))}
          </select>
          <label for="rc-feed">Feed</label>
          <input
            id="rc-feed"
            value={receiver.feed}
            onInput={(e) => setReceiver({ ...receiver, feed: (e.target as HTMLInputElement).value })}
          />
          <label for="rc-secret">Secret name</label>
          <input
            id="rc-secret"
            value={receiver.secret}
            onInput={(e) => setReceiver({ ...receiver, secret: (e.target as HTMLInputElement).value })}
          />
          <button type="submit">Create receiver</button>
        </form>
        {receiverUrl && <ShownOnce label="Its notification URL" value={receiverUrl} />}
        {receivers.error && <p class="refusal">{receivers.error}</p>}
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Feed</th>
              <th scope="col">Created</th>
              <th scope="col">Notifications</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(receivers.data ?? []).map((r) => [
              <tr>
                <th scope="row">{r.spec.name}</th>
                <td>{r.spec.type}</td>
                <td>{r.spec.feed ?? ''}</td>
                <td>
                  {r.createdBy}, {age(r.createdAt)}
                </td>
                <td>
                  <NotificationsToggle name={r.spec.name} shown={shown} setShown={setShown} />
                </td>
                <td>
                  <Action
                    label={`Revoke ${r.spec.name}`}
                    danger
                    confirm="Its registry's notifications will be refused."
                    run={async () => {
                      const { error, response } = await api.DELETE('/receivers/{name}', {
                        params: { path: { name: r.spec.name } },
                      });
                      receivers.reload();
                      return response.ok ? null : reasonOf(error, response);
                    }}
                  />
                </td>
              </tr>,
              shown === r.spec.name && (
                <tr class="history">
                  <td colSpan={6}>
                    <ReceiverNotifications {...props} name={r.spec.name} />
                  </td>
                </tr>
              ),
            ])}
            <tr>
              <th scope="row">{REGISTRY_ENDPOINT}</th>
              <td>distribution</td>
              <td>named in each notification</td>
              <td>the service's own endpoint</td>
              <td>
                <NotificationsToggle name={REGISTRY_ENDPOINT} shown={shown} setShown={setShown} />
              </td>
              <td></td>
            </tr>
            {shown === REGISTRY_ENDPOINT && (
              <tr class="history">
                <td colSpan={6}>
                  <ReceiverNotifications {...props} name={REGISTRY_ENDPOINT} />
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="tk-title">
        <h2 id="tk-title">Tokens</h2>
        <form onSubmit={createToken} class="inline">
          <label for="tk-name">Name</label>
          <input
            id="tk-name"
            value={token.name}
            onInput={(e) => setToken({ ...token, name: (e.target as HTMLInputElement).value })}
          />
          <label for="tk-role">Role</label>
          <select
            id="tk-role"
            value={token.role}
            onChange={(e) =>
              setToken({
                ...token,
                role: (e.target as HTMLSelectElement).value as 'viewer' | 'operator' | 'admin',
              })
            }
          >
            <option value="viewer">viewer</option>
            <option value="operator">operator</option>
            <option value="admin">admin</option>
          </select>
          <button type="submit">Create token</button>
        </form>
        {tokenValue && <ShownOnce label="The token" value={tokenValue} />}
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(tokens.data ?? []).map((t) => (
              <tr>
                <th scope="row">{t.name}</th>
                <td>{t.role}</td>
                <td>{age(t.lastUsedAt)}</td>
                <td>
                  <Action
                    label={`Revoke ${t.name}`}
                    danger
                    confirm="Its sessions end too."
                    run={async () => {
                      const { error, response } = await api.DELETE('/tokens/{name}', {
                        params: { path: { name: t.name } },
                      });
                      tokens.reload();
                      return response.ok ? null : reasonOf(error, response);
                    }}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="au-title">
        <h2 id="au-title">Audit</h2>
        <table class="list">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Call</th>
              <th scope="col">Outcome</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {(audit.data ?? []).map((a) => (
              <tr>
                <td>{age(a.at)}</td>
                <td>{a.actor}</td>
                <td class="mono">{`${a.method} ${a.path}`}</td>
                <td>
                  {a.outcome} ({a.status}){a.count > 1 ? ` ×${a.count}` : ''}
                </td>
                <td>{a.detail ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </section>
  );
}
