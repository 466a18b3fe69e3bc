import { parse as parseYaml } from 'yaml';
import { basicAuthorization, CredentialStore } from './credentials';
import { FeedError } from './errors';
import { HelmHttpFeed } from './feed';
import { HttpClient, statusError } from './http';

/** One version of a chart in a repository's index. */
export interface ChartVersion {
  readonly version: string;
  /** sha256 of the chart archive, when the index gives it. */
  readonly digest: string | null;
  /** Absolute download URLs (relative ones resolved against the repository). */
  readonly urls: readonly string[];
}

interface CachedIndex {
  readonly etag: string | null;
  readonly lastModified: string | null;
  readonly entries: Readonly<Record<string, unknown>>;
}

/**
 * A Helm HTTP repository client: `index.yaml` with conditional GET (ETag, Last-Modified), so an unchanged
 * index costs a 304 and no parse; gzip; a size cap on the decompressed body.
 */
export class HelmRepositoryClient {
  private readonly indexes = new Map<string, CachedIndex>();
  /** Index requests sent and indexes parsed, for tests and benchmarks. */
  requests = 0;
  parses = 0;

  constructor(
    private readonly http: HttpClient,
    private readonly credentials: CredentialStore,
  ) {}

  /** Every version of a chart, as the repository's index lists it. */
  async chartVersions(feed: HelmHttpFeed, chart: string): Promise<ChartVersion[]> {
    const indexUrl = `${feed.url}/index.yaml`;
    const cached = this.indexes.get(feed.id);
    const headers: Record<string, string> = {
      accept: 'application/x-yaml, text/yaml, */*',
      'accept-encoding': 'gzip',
    };
    if (cached?.etag) headers['if-none-match'] = cached.etag;
    if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;
    const basic = await this.credentials.basic(feed);
    if (basic) headers.authorization = basicAuthorization(basic);
    this.requests++;
    const res = await this.http.request(indexUrl, {
      headers,
      maxBytes: feed.maxIndexBytes,
      timeoutMs: 60_000,
    });
    let index: CachedIndex;
    if (res.status === 304 && cached) {
      index = cached;
    } else if (res.status >= 200 && res.status < 300) {
      index = {
        etag: res.headers.get('etag'),
        lastModified: res.headers.get('last-modified'),
        entries: this.parse(res.body, feed),
      };
      this.indexes.set(feed.id, index);
    } else {
      throw statusError(res, `the index of Helm repository ${feed.id}`);
    }
    const raw = index.entries[chart];
    if (raw === undefined)
      throw new FeedError('NOT_FOUND', `chart ${chart} is not in the index of Helm repository ${feed.id}`);
    if (!Array.isArray(raw))
      throw new FeedError(
        'BAD_RESPONSE',
        `the index of ${feed.id} lists ${chart} without an array of versions`,
      );
    const versions: ChartVersion[] = [];
    for (const entry of raw as unknown[]) {
      const e = entry as { version?: unknown; digest?: unknown; urls?: unknown };
      if (typeof e?.version !== 'string') continue; // an entry without a version cannot be released; skip it
      const urls = Array.isArray(e.urls)
        ? e.urls.filter((u): u is string => typeof u === 'string').map((u) => resolveUrl(u, feed.url))
        : [];
      const digest =
        typeof e.digest === 'string' && /^[0-9a-f]{64}$/.test(e.digest) ? `sha256:${e.digest}` : null;
      versions.push({ version: e.version, digest, urls });
    }
    return versions;
  }

  private parse(body: Buffer, feed: HelmHttpFeed): Record<string, unknown> {
    this.parses++;
    let doc: unknown;
    try {
      // `yaml` caps alias expansion (maxAliasCount), so a billion-laughs index cannot blow up memory.
      doc = parseYaml(body.toString('utf8'));
    } catch (err) {
      throw new FeedError(
        'BAD_RESPONSE',
        `the index of Helm repository ${feed.id} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
      );
    }
    const entries = (doc as { entries?: unknown })?.entries;
    if (entries === null || typeof entries !== 'object' || Array.isArray(entries)) {
      throw new FeedError('BAD_RESPONSE', `the index of Helm repository ${feed.id} has no "entries" map`);
    }
    return entries as Record<string, unknown>;
  }
}

function resolveUrl(url: string, base: string): string {
  try {
    return new URL(url, `${base}/`).href;
  } catch {
    return url;
  }
}
