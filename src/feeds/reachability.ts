import { HttpError } from '../net/errors';
import { Feed } from './feed';
import { HttpClient } from '../net/http';

/** How long a probe's answer is reused: an `apply` of many projects on one registry probes it once. */
const PROBE_TTL_MS = 30_000;
/** Answers remembered at most (oldest dropped first). */
const MAX_PROBES = 1000;
/** A probe waits this long at most: a save answers in seconds even when a registry is silent. */
export const PROBE_TIMEOUT_MS = 3_000;

/**
 * Whether a feed answers where the worker will ask, checked when a project is saved: a host that does not
 * resolve (`dockerhub.io`), a port nobody answers on, or an address that is no registry is found then,
 * instead of as a NETWORK error in the trigger an hour later. Any HTTP answer of a registry API counts
 * (401 included: the probe is anonymous); only what the worker could never use is reported.
 */
export class FeedProbe {
  private readonly answers = new Map<string, { at: number; reason: Promise<string | null> }>();

  constructor(private readonly http: HttpClient) {}

  /** Why the feed cannot be reached, in words a person can act on, or null when it answers. */
  reason(feed: Feed, now = Date.now()): Promise<string | null> {
    const url = probeUrl(feed);
    const known = this.answers.get(url);
    if (known && now - known.at < PROBE_TTL_MS) return known.reason;
    const reason = this.ask(feed, url);
    this.answers.delete(url);
    this.answers.set(url, { at: now, reason });
    if (this.answers.size > MAX_PROBES) this.answers.delete(this.answers.keys().next().value as string);
    return reason;
  }

  private async ask(feed: Feed, url: string): Promise<string | null> {
    try {
      const res = await this.http.request(url, {
        method: feed.type === 'helm' ? 'HEAD' : 'GET',
        timeoutMs: PROBE_TIMEOUT_MS,
        maxBytes: 64 * 1024,
      });
      if (res.status !== 404) return null;
      return feed.type === 'helm'
        ? `${url} was not found (404): no Helm repository there`
        : `${url} answered 404: no registry API there (a registry answers 200 or 401)`;
    } catch (err) {
      if (err instanceof HttpError && (err.code === 'NETWORK' || err.code === 'TIMEOUT')) return err.message;
      if (err instanceof HttpError && err.code === 'OUTBOUND_REFUSED') return err.message;
      return null;
    }
  }
}

/** Where a feed's API answers anonymously: `/v2/` of a registry, `index.yaml` of a Helm repository. */
function probeUrl(feed: Feed): string {
  const base = feed.url.replace(/\/+$/, '');
  return feed.type === 'helm' ? `${base}/index.yaml` : `${base}/v2/`;
}
