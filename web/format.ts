/*
 * Everything shown comes from users or registries. The console renders values as text only (Preact sets
 * text nodes and attributes, never HTML), and a link target only after checkHref allows it.
 */

/** A URL that may be a link target: http(s) only, so `javascript:` and `data:` never become links. */
export function checkHref(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url, location.origin);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/** How long ago a moment was, shortly ("3 min ago"); empty for none. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** A hash route: `#/projects/<p>/releases/<n>`; every part encoded, so a name cannot add a segment. */
export function route(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

/** A workflow's page in the Temporal Web UI. */
export function temporalLink(
  ui: { url: string; namespace: string } | null,
  workflowId: string,
): string | null {
  if (!ui) return null;
  return checkHref(
    `${ui.url.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(ui.namespace)}/workflows/${encodeURIComponent(workflowId)}`,
  );
}

/** An instant as UTC to the minute: the same on every screen, whatever the browser's time zone. */
export function utc(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** When a scheduled deployment goes, and until when it may start. */
export function scheduleText(d: { deployAt?: string | null; deployAtExpiry?: string | null }): string {
  if (!d.deployAt) return '';
  return `at ${utc(d.deployAt)}${d.deployAtExpiry ? `, cancelled if not started by ${utc(d.deployAtExpiry)}` : ''}`;
}
