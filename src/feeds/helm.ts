import { FAILSAFE_SCHEMA, load as loadYaml } from 'js-yaml';
import { basicAuthorization, CredentialStore } from './credentials';
import { FeedError } from './errors';
import { HelmHttpFeed } from './feed';
import { HttpClient, statusError } from './http';
import { ChartEntrySchema, checkAnswer, HelmIndexSchema } from './answers';

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
  /** Only what polls need, per chart: far smaller than the parsed document. */
  readonly charts: ReadonlyMap<string, readonly ChartVersion[] | 'malformed'>;
  /** Approximate memory held, for the cache's budget. */
  readonly weight: number;
}

/** Parsed indexes kept per worker, by approximate size; the least recently used go first. */
export const DEFAULT_INDEX_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * A Helm HTTP repository client: `index.yaml` with conditional GET (ETag, Last-Modified), so an unchanged
 * index costs a 304 and no parse; gzip; a size cap on the decompressed body. Parsing is linear in the
 * index's size (js-yaml with the failsafe schema: versions stay strings, as Helm reads them; JSON
 * indexes take JSON.parse), and the work over a parsed index is capped by the feed's maxTags, so an
 * alias-laden index cannot multiply it.
 */
export class HelmRepositoryClient {
  private readonly indexes = new Map<string, CachedIndex>();
  private cachedWeight = 0;
  /** Index requests sent and indexes parsed, for tests and benchmarks. */
  requests = 0;
  parses = 0;

  constructor(
    private readonly http: HttpClient,
    private readonly credentials: CredentialStore,
    private readonly cacheBytes = DEFAULT_INDEX_CACHE_BYTES,
  ) {}

  /** Every version of a chart, as the repository's index lists it. */
  async chartVersions(feed: HelmHttpFeed, chart: string, signal?: AbortSignal): Promise<ChartVersion[]> {
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
      signal,
    });
    let index: CachedIndex;
    if (res.status === 304 && cached) {
      index = cached;
      this.touch(feed.id, cached);
    } else if (res.status >= 200 && res.status < 300) {
      index = {
        etag: res.headers.get('etag'),
        lastModified: res.headers.get('last-modified'),
        ...this.parse(res.body, feed),
      };
      this.remember(feed.id, index);
    } else {
      throw statusError(res, `the index of Helm repository ${feed.id}`);
    }
    const versions = index.charts.get(chart);
    if (versions === undefined)
      throw new FeedError('NOT_FOUND', `chart ${chart} is not in the index of Helm repository ${feed.id}`);
    if (versions === 'malformed')
      throw new FeedError(
        'BAD_RESPONSE',
        `the index of ${feed.id} lists ${chart} without an array of versions`,
      );
    return [...versions];
  }

  private touch(feedId: string, index: CachedIndex): void {
    this.indexes.delete(feedId);
    this.indexes.set(feedId, index);
  }

  private remember(feedId: string, index: CachedIndex): void {
    const old = this.indexes.get(feedId);
    if (old) {
      this.indexes.delete(feedId);
      this.cachedWeight -= old.weight;
    }
    if (index.weight > this.cacheBytes) return; // too big to keep: the next poll downloads it again
    while (this.cachedWeight + index.weight > this.cacheBytes && this.indexes.size > 0) {
      const [oldest, entry] = this.indexes.entries().next().value as [string, CachedIndex];
      this.indexes.delete(oldest);
      this.cachedWeight -= entry.weight;
    }
    this.indexes.set(feedId, index);
    this.cachedWeight += index.weight;
  }

  /** Indexes cached and their approximate bytes (tests, benchmarks). */
  cacheStats(): { indexes: number; bytes: number } {
    return { indexes: this.indexes.size, bytes: this.cachedWeight };
  }

  private parse(
    body: Buffer,
    feed: HelmHttpFeed,
  ): { charts: Map<string, readonly ChartVersion[] | 'malformed'>; weight: number } {
    this.parses++;
    const text = body.toString('utf8');
    let doc: unknown;
    try {
      doc = /^\s*\{/.test(text) ? JSON.parse(text) : loadYaml(text, { schema: FAILSAFE_SCHEMA });
    } catch (err) {
      throw new FeedError(
        'BAD_RESPONSE',
        `the index of Helm repository ${feed.id} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
      );
    }
    const { entries } = checkAnswer(doc, HelmIndexSchema, `the index of Helm repository ${feed.id}`);
    const charts = new Map<string, readonly ChartVersion[] | 'malformed'>();
    let seen = 0;
    // Approximate heap held: UTF-16 strings plus object overhead (measured: about 0.7 KiB a version).
    let weight = 0;
    for (const [name, raw] of Object.entries(entries as Record<string, unknown>)) {
      if (!Array.isArray(raw)) {
        charts.set(name, 'malformed');
        continue;
      }
      seen += raw.length;
      if (seen > feed.maxTags)
        throw new FeedError(
          'TOO_LARGE',
          `the index of Helm repository ${feed.id} lists more than ${feed.maxTags} chart versions; raise maxTags`,
        );
      const versions = raw.flatMap((entry: unknown) => chartVersion(entry, feed.url));
      for (const v of versions)
        weight += 200 + 2 * (v.version.length + (v.digest?.length ?? 0) + v.urls.join('').length);
      charts.set(name, versions);
    }
    return { charts, weight };
  }
}

function chartVersion(entry: unknown, base: string): ChartVersion[] {
  const parsed = ChartEntrySchema.safeParse(entry);
  if (!parsed.success) return []; // an entry without a version cannot be released; skip it
  const e = parsed.data;
  const urls = (e.urls ?? [])
    .slice(0, 10)
    .filter((u): u is string => typeof u === 'string')
    .map((u) => resolveUrl(u, base));
  const digest =
    typeof e.digest === 'string' && /^[0-9a-f]{64}$/.test(e.digest) ? `sha256:${e.digest}` : null;
  return [{ version: e.version, digest, urls }];
}

function resolveUrl(url: string, base: string): string {
  try {
    return new URL(url, `${base}/`).href;
  } catch {
    return url;
  }
}
