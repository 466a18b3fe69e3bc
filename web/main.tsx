import { options, render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Api, createApi, reasonOf, SessionInfo } from './api';
import { LiveContext, useLiveCounter } from './live';
import { Dashboard } from './pages/dashboard';
import { ProjectPage } from './pages/project';
import { ReleasePage } from './pages/release';
import { EnvironmentsPage } from './pages/environments';
import { AdminPage } from './pages/admin';
import { FreezesPage } from './pages/freezes';
import { TenantsPage } from './pages/tenants';
import { printableOnPage, printableShownAttributes } from '../src/domain/printable';

/*
 * The feed-triggers console. Stack, chosen for few and well-kept dependencies:
 * - Preact (4 KB) with TSX: components and a DOM diff, so live re-reads keep focus and scroll, and every value
 *   is a text node or an attribute (never innerHTML): hostile names show as text by construction.
 * - esbuild (the only build tool added) bundles it inside `npm run build`; assets are named by content hash.
 * - openapi-typescript turns the API's own OpenAPI document (written from the route definitions at build
 *   time) into types, and openapi-fetch (6 KB) calls the API with them; the build type-checks web/ against
 *   them, so the console and the API cannot drift.
 * - No router or state library: hash routes (a reload keeps the page, no server route per page) and hooks.
 * The page runs under a CSP without inline script or style; everything is served by the API process.
 */

/*
 * Every text node the console renders shows direction overrides and controls as visible `\uXXXX`: Preact
 * already renders values as text, but a U+202E in a tag or an error would still reorder what follows it
 * (`gnp.\u202Eexe.evil` reads as an image name ending in .png). Attributes people see or hear (tooltips,
 * accessible names, alternatives: SHOWN_ATTRIBUTES) get the same. One hook covers every page; form values,
 * links and ids are left as they are, so actions on such a name still name it exactly.
 */
const nextVNodeHook = options.vnode;
options.vnode = (vnode) => {
  if (vnode.type === null && typeof vnode.props === 'string')
    (vnode as { props: unknown }).props = printableOnPage(vnode.props);
  else if (typeof vnode.type === 'string')
    (vnode as { props: unknown }).props = printableShownAttributes(vnode.props as Record<string, unknown>);
  nextVNodeHook?.(vnode);
};

export interface PageProps {
  readonly api: Api;
  readonly session: SessionInfo;
}

/** The page a hash route names, its parts decoded. */
function parseRoute(hash: string): string[] {
  try {
    return hash
      .replace(/^#\/?/, '')
      .split('/')
      .filter((p) => p !== '')
      .map(decodeURIComponent);
  } catch {
    return [];
  }
}

function useHash(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return parseRoute(hash);
}

function SignIn({ onSignedIn }: { onSignedIn: (s: SessionInfo) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const res = await fetch('/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: token.trim() }),
      credentials: 'same-origin',
    }).catch(() => null);
    setBusy(false);
    setToken('');
    if (!res) return setError('the API did not answer');
    const body: unknown = await res.json().catch(() => null);
    if (!res.ok) return setError(reasonOf(body, res));
    onSignedIn(body as SessionInfo);
  };
  return (
    <main class="signin">
      <h1>feed-triggers</h1>
      <form onSubmit={submit} aria-describedby="signin-help">
        <label for="token">API token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          required
        />
        <p id="signin-help" class="hint">
          Exchanged once for a session; the token is not kept in this browser.
        </p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p role="alert" class="refusal">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

function Shell({ session, onSignOut }: { session: SessionInfo; onSignOut: () => void }) {
  const api = useMemo(() => createApi(session.csrf), [session.csrf]);
  const parts = useHash();
  const live = useLiveCounter(true);
  const [page, ...rest] = parts;
  let content;
  // A page of another project or release starts afresh (keyed): nothing loaded, typed or picked for the one
  // before is shown or sent for it, not even while its own data loads or when that load fails.
  if (page === 'projects' && rest.length >= 3 && rest[1] === 'releases')
    content = (
      <ReleasePage
        key={`release/${rest[0]}/${rest[2]}`}
        api={api}
        session={session}
        project={rest[0]}
        number={rest[2]}
      />
    );
  else if (page === 'projects' && rest.length >= 1)
    content = <ProjectPage key={`project/${rest[0]}`} api={api} session={session} project={rest[0]} />;
  else if (page === 'environments') content = <EnvironmentsPage api={api} session={session} />;
  else if (page === 'admin') content = <AdminPage api={api} session={session} />;
  else if (page === 'freezes') content = <FreezesPage api={api} session={session} />;
  else if (page === 'tenants') content = <TenantsPage api={api} session={session} />;
  else content = <Dashboard api={api} session={session} />;
  const signOut = async () => {
    await api.DELETE('/session').catch(() => undefined);
    onSignOut();
  };
  return (
    <LiveContext.Provider value={live.count}>
      <header class="top">
        <a class="brand" href="#/">
          feed-triggers
        </a>
        <nav aria-label="Main">
          <a href="#/">Dashboard</a>
          <a href="#/environments">Environments</a>
          <a href="#/freezes">Freezes</a>
          <a href="#/tenants">Tenants</a>
          {session.role === 'admin' && <a href="#/admin">Admin</a>}
        </nav>
        <span class="who">
          <span class={live.connected ? 'dot on' : 'dot'} title={live.connected ? 'live' : 'not live'} />
          {session.name} ({session.role})
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main">{content}</main>
    </LiveContext.Provider>
  );
}

function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  useEffect(() => {
    void fetch('/session', { credentials: 'same-origin' })
      .then(async (res) => (res.ok ? ((await res.json()) as SessionInfo) : null))
      .catch(() => null)
      .then(setSession);
  }, []);
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={setSession} />;
  return <Shell session={session} onSignOut={() => setSession(null)} />;
}

render(<App />, document.getElementById('app')!);
