import { CpuPool, PoolBusyError, PoolTaskError, PoolTimeoutError, sharedCpuPool } from '../runtime/cpu-pool';
import { basicAuthorization, CredentialStore } from './credentials';
import { asFeedError, FeedError, FeedErrorCode } from './errors';
import { HelmHttpFeed } from './feed';
import { ChartVersion, HelmIndexFeed, parseHelmIndex, ParsedHelmIndex } from './helm-index';
import { HttpClient, statusError } from '../net/http';

export type { ChartVersion } from './helm-index';

/** Indexes up to this size parse on the event loop (a few milliseconds); larger ones in the CPU pool. */
export const INLINE_INDEX_BYTES = 256 * 1024;

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
 * index's size and capped by the feed's maxTags (helm-index.ts); an index larger than INLINE_INDEX_BYTES is
 * parsed in the CPU pool, so a hostile feed's index keeps no API read or workflow task waiting.
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
    private readonly pool: CpuPool = sharedCpuPool('feeds'),
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
    const res = await this.http
      .request(indexUrl, {
        headers,
        maxBytes: feed.maxIndexBytes,
        timeoutMs: 60_000,
        signal,
      })
      .catch(asFeedError);
    let index: CachedIndex;
    if (res.status === 304 && cached) {
      index = cached;
      this.touch(feed.id, cached);
    } else if (res.status >= 200 && res.status < 300) {
      index = {
        etag: res.headers.get('etag'),
        lastModified: res.headers.get('last-modified'),
        ...(await this.parse(res.body, feed, signal)),
      };
      this.remember(feed.id, index);
    } else {
      throw FeedError.from(statusError(res, `the index of Helm repository ${feed.id}`));
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

  /** Parses an index: small ones here, larger ones in a pool thread, so the event loop never waits on one. */
  private async parse(body: Buffer, feed: HelmHttpFeed, signal?: AbortSignal): Promise<ParsedHelmIndex> {
    this.parses++;
    const plain: HelmIndexFeed = { id: feed.id, url: feed.url, maxTags: feed.maxTags };
    if (body.length <= INLINE_INDEX_BYTES) return parseHelmIndex(body, plain);
    let parsed: ParsedHelmIndex;
    try {
      parsed = await this.pool.run('helmIndex', { body, feed: plain });
    } catch (err) {
      if (err instanceof PoolTaskError && err.errorName === 'FeedError')
        throw new FeedError(err.code as FeedErrorCode, err.message);
      // Retryable: the poll tries again with backoff once the pool has room.
      if (err instanceof PoolBusyError || err instanceof PoolTimeoutError)
        throw new FeedError(
          'SERVER_ERROR',
          `the index of Helm repository ${feed.id} could not be parsed now: ${err.message}`,
        );
      throw err;
    }
    signal?.throwIfAborted();
    return parsed;
  }
}
