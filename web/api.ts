import createClient from 'openapi-fetch';
import type { paths } from './api-types';

/** The typed API client: every path, parameter and answer is checked against the API's OpenAPI document. */
export type Api = ReturnType<typeof createClient<paths>>;

/**
 * A client for a signed-in console: same origin, the session cookie sent by the browser (never read by this
 * code: it is HttpOnly), and every write echoing the session's CSRF token.
 */
export function createApi(csrf: string): Api {
  const api = createClient<paths>({ baseUrl: location.origin, credentials: 'same-origin' });
  api.use({
    onRequest({ request }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') request.headers.set('x-csrf-token', csrf);
      return request;
    },
  });
  return api;
}

/** The reason an API answer gives for a refusal (problem+json `detail`), as text. */
export function reasonOf(error: unknown, response?: Response): string {
  const e = error as { detail?: unknown; title?: unknown } | undefined;
  if (e && typeof e.detail === 'string') return e.detail;
  if (e && typeof e.title === 'string') return e.title;
  return response ? `the API answered ${response.status} ${response.statusText}` : 'the API did not answer';
}

export interface SessionInfo {
  readonly name: string;
  readonly role: 'viewer' | 'operator' | 'admin';
  readonly csrf: string;
  readonly expiresAt: string;
  readonly temporalUi: { readonly url: string; readonly namespace: string } | null;
}

const RANK = { viewer: 0, operator: 1, admin: 2 } as const;

/** Whether the session's role covers `need`: buttons follow it, the API still decides. */
export function may(session: SessionInfo, need: 'viewer' | 'operator' | 'admin'): boolean {
  return RANK[session.role] >= RANK[need];
}
