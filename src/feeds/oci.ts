import { createHash } from 'node:crypto';
import { parseWwwAuthenticate } from './challenge';
import { basicAuthorization, CredentialStore } from './credentials';
import { asFeedError, FeedError } from './errors';
import { OciFeed } from './feed';
import { HttpClient, HttpResponse, statusError } from '../net/http';
import { realmRefusal } from './token-realm';
import {
  DigestSchema,
  ImageConfigSchema,
  ManifestSchema,
  parseAnswer,
  RegistryErrorSchema,
  TagPageSchema,
  TokenAnswerSchema,
} from './answers';

/** Every manifest media type we accept, OCI first: registry 2.8 answers 404 for OCI images without them. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const TAG_PAGE_MAX_BYTES = 8 * 1024 * 1024;

export interface TagListing {
  readonly tags: string[];
  /** Docker Hub's `ratelimit-remaining`, when the registry sends it. */
  readonly rateLimitRemaining: number | null;
  readonly requests: number;
}

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

export interface ManifestInfo {
  readonly digest: string;
  readonly mediaType: string | null;
  /** A multi-arch image index (OCI index or Docker manifest list). */
  readonly isIndex: boolean;
}

/** What a rule can ask of an image beyond its tag. */
export interface ImageConfig {
  readonly created: string | null;
  readonly labels: Readonly<Record<string, string>>;
}

const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

/** An OCI distribution client: tag listing with pagination, manifest digests, Basic and Bearer auth. */
export class OciClient {
  private readonly tokens = new Map<string, CachedToken>();
  /** Feeds whose registry asked for Basic: send it up front instead of paying a 401 each time. */
  private readonly basicFeeds = new Set<string>();
  /** Requests sent, for benchmarks and tests of deduplication. */
  requests = 0;

  constructor(
    private readonly http: HttpClient,
    private readonly credentials: CredentialStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Lists every tag of a repository, following `Link` pagination within the registry's origin. */
  async listTags(feed: OciFeed, repository: string, signal?: AbortSignal): Promise<TagListing> {
    const origin = new URL(feed.url).origin;
    let next: string | null = `${feed.url}/v2/${repository}/tags/list?n=${feed.pageSize}`;
    const tags: string[] = [];
    let requests = 0;
    let rateLimitRemaining: number | null = null;
    const seen = new Set<string>();
    while (next !== null) {
      if (seen.has(next))
        throw new FeedError('BAD_RESPONSE', `the registry's next-page links for ${repository} loop`);
      if (seen.size >= feed.maxPages)
        throw new FeedError(
          'TOO_LARGE',
          `${repository} needs more than ${feed.maxPages} pages of tags; raise maxPages for feed ${feed.id}`,
        );
      seen.add(next);
      const res = await this.send(feed, repository, next, { maxBytes: TAG_PAGE_MAX_BYTES, signal });
      requests++;
      rateLimitRemaining = readRateLimit(res) ?? rateLimitRemaining;
      const page = parseTagPage(res, repository);
      for (const tag of page) tags.push(tag);
      if (tags.length > feed.maxTags) {
        throw new FeedError(
          'TOO_LARGE',
          `${repository} has more than ${feed.maxTags} tags; raise maxTags for feed ${feed.id}`,
        );
      }
      next = nextLink(res, next, origin);
      if (page.length === 0) next = null; // some registries send a Link on an empty last page
    }
    return { tags, rateLimitRemaining, requests };
  }

  /** The digest of a tag's manifest by HEAD (free of Docker Hub's pull limit), or by GET and sha256. */
  async manifest(feed: OciFeed, repository: string, tag: string): Promise<ManifestInfo> {
    const url = `${feed.url}/v2/${repository}/manifests/${encodeURIComponent(tag)}`;
    // A 404 here is the tag's, not the repository's: say which (`demo/web:1.2.3`).
    const what = `${repository}:${tag} on feed ${feed.id}`;
    const head = await this.send(feed, repository, url, {
      method: 'HEAD',
      headers: { accept: MANIFEST_ACCEPT },
      what,
    });
    const digest = head.headers.get('docker-content-digest');
    const mediaType = head.headers.get('content-type')?.split(';')[0].trim() ?? null;
    if (digest && /^sha256:[0-9a-f]{64}$/.test(digest))
      return { digest, mediaType, isIndex: mediaType !== null && INDEX_TYPES.has(mediaType) };
    const res = await this.send(feed, repository, url, {
      headers: { accept: MANIFEST_ACCEPT },
      maxBytes: 4 * 1024 * 1024,
      what,
    });
    const bodyType =
      parseAnswer(res.body, ManifestSchema, `the manifest of ${repository}:${tag}`).mediaType ?? null;
    const type = bodyType ?? mediaType;
    return {
      digest: `sha256:${createHash('sha256').update(res.body).digest('hex')}`,
      mediaType: type,
      isIndex: type !== null && INDEX_TYPES.has(type),
    };
  }

  /**
   * The image config's `created` and labels. For a multi-arch index, the linux/amd64 image (else the
   * first image) speaks for the tag. Costs a manifest GET or two and a blob GET, so callers ask only
   * when a rule needs labels.
   */
  async imageConfig(feed: OciFeed, repository: string, tag: string): Promise<ImageConfig> {
    const manifestOf = async (ref: string) => {
      const res = await this.send(
        feed,
        repository,
        `${feed.url}/v2/${repository}/manifests/${encodeURIComponent(ref)}`,
        {
          headers: { accept: MANIFEST_ACCEPT },
          maxBytes: 4 * 1024 * 1024,
          what: `${repository}:${ref} on feed ${feed.id}`,
        },
      );
      return parseAnswer(res.body, ManifestSchema, `the manifest of ${repository}:${ref}`);
    };
    let manifest = await manifestOf(tag);
    if (manifest.manifests) {
      const images = manifest.manifests.filter((m) => m.platform?.os !== 'unknown');
      const pick =
        images.find((m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64') ?? images[0];
      if (!pick?.digest)
        throw new FeedError('BAD_RESPONSE', `the index of ${repository}:${tag} lists no image`);
      manifest = await manifestOf(pick.digest);
    }
    const configDigest = manifest.config?.digest;
    if (!DigestSchema.safeParse(configDigest).success) {
      throw new FeedError('BAD_RESPONSE', `the manifest of ${repository}:${tag} names no config blob`);
    }
    const res = await this.send(feed, repository, `${feed.url}/v2/${repository}/blobs/${configDigest}`, {
      maxBytes: 4 * 1024 * 1024,
    });
    const config = parseAnswer(res.body, ImageConfigSchema, `the config of ${repository}:${tag}`);
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(config.config?.Labels ?? {}))
      if (typeof v === 'string') labels[k] = v;
    return { created: typeof config.created === 'string' ? config.created : null, labels };
  }

  /** A manifest's raw bytes by tag or digest (signature and attestation manifests, image indexes), capped. */
  async manifestBytes(
    feed: OciFeed,
    repository: string,
    ref: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<Buffer> {
    const res = await this.send(
      feed,
      repository,
      `${feed.url}/v2/${repository}/manifests/${encodeURIComponent(ref)}`,
      {
        headers: { accept: MANIFEST_ACCEPT },
        maxBytes,
        signal,
        what: `${repository}:${ref} on feed ${feed.id}`,
      },
    );
    return res.body;
  }

  /** A blob's bytes, capped, checked against its digest (a registry that serves other bytes is refused). */
  async blobBytes(
    feed: OciFeed,
    repository: string,
    digest: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<Buffer> {
    const res = await this.send(feed, repository, `${feed.url}/v2/${repository}/blobs/${digest}`, {
      maxBytes,
      signal,
    });
    if (`sha256:${createHash('sha256').update(res.body).digest('hex')}` !== digest)
      throw new FeedError('BAD_RESPONSE', `the blob ${digest} of ${repository} does not match its digest`);
    return res.body;
  }

  /**
   * The OCI 1.1 referrers index of a digest, or null where the registry has no referrers API (registry 2.8
   * answers 404 for the route, as it does for any unknown path).
   */
  async referrers(
    feed: OciFeed,
    repository: string,
    digest: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<Buffer | null> {
    try {
      const res = await this.send(feed, repository, `${feed.url}/v2/${repository}/referrers/${digest}`, {
        headers: { accept: 'application/vnd.oci.image.index.v1+json' },
        maxBytes,
        signal,
      });
      return res.body;
    } catch (err) {
      if (err instanceof FeedError && err.code === 'NOT_FOUND') return null;
      throw err;
    }
  }

  /** Sends a request with the feed's auth, answering one 401 challenge; non-2xx answers become FeedErrors. */
  private async send(
    feed: OciFeed,
    repository: string,
    url: string,
    req: {
      method?: 'GET' | 'HEAD';
      headers?: Record<string, string>;
      maxBytes?: number;
      signal?: AbortSignal;
      /** What an error names; the repository on its feed by default. */
      what?: string;
    },
  ): Promise<HttpResponse> {
    const { what, ...request } = req;
    const scope = `repository:${repository}:pull`;
    const headers: Record<string, string> = { ...request.headers };
    const token = this.tokens.get(`${feed.id}|${scope}`);
    if (token && token.expiresAt > this.now()) {
      headers.authorization = `Bearer ${token.token}`;
    } else if (this.basicFeeds.has(feed.id)) {
      const basic = await this.credentials.basic(feed);
      if (basic) headers.authorization = basicAuthorization(basic);
    }
    this.requests++;
    let res = await this.http.request(url, { ...request, headers }).catch(asFeedError);
    if (res.status === 401) {
      // Also the path for `insufficient_scope`: the challenge names the scope to ask for, once.
      const authorization = await this.answerChallenge(feed, scope, res);
      if (authorization) {
        this.requests++;
        res = await this.http
          .request(url, { ...request, headers: { ...headers, authorization } })
          .catch(asFeedError);
        if (res.status === 401) this.credentials.forget(feed);
      }
    }
    if (res.status >= 200 && res.status < 300) return res;
    throw FeedError.from(statusError(res, what ?? `${repository} on feed ${feed.id}`, registryMessage(res)));
  }

  private async answerChallenge(feed: OciFeed, scope: string, res: HttpResponse): Promise<string | null> {
    const challenges = parseWwwAuthenticate(res.headers.get('www-authenticate'));
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer && bearer.params.realm) {
      const token = await this.fetchToken(
        feed,
        bearer.params.realm,
        bearer.params.service ?? '',
        bearer.params.scope ?? scope,
      );
      this.tokens.set(`${feed.id}|${scope}`, token);
      return `Bearer ${token.token}`;
    }
    if (basic) {
      const credentials = await this.credentials.basic(feed);
      if (!credentials) return null;
      this.basicFeeds.add(feed.id);
      return basicAuthorization(credentials);
    }
    return null;
  }

  /** Trades credentials for a Bearer token: OAuth2 POST with a refresh token (falling back to GET), else GET. */
  private async fetchToken(
    feed: OciFeed,
    realm: string,
    service: string,
    scope: string,
  ): Promise<CachedToken> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new FeedError('BAD_RESPONSE', `feed ${feed.id} sent a token realm that is not a URL`);
    }
    const what = `the token service of feed ${feed.id}`;
    const refusal = realmRefusal(feed.url, url, feed.tokenRealmHosts);
    if (refusal !== null && feed.auth.kind !== 'anonymous') {
      throw new FeedError(
        'DENIED',
        `feed ${feed.id}: the registry named ${url.origin} as its token realm; credentials withheld: ${refusal}`,
      );
    }
    const refreshToken = await this.credentials.refreshToken(feed);
    if (refreshToken) {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        service,
        scope,
        client_id: 'feed-triggers',
      });
      this.requests++;
      const res = await this.http
        .request(url.href, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
          maxBytes: 1024 * 1024,
        })
        .catch(asFeedError);
      // Token servers without OAuth2 support answer 404 or 405 to the POST; they take the GET below.
      if (res.status !== 404 && res.status !== 405) return this.readToken(res, what, feed);
    }
    if (service) url.searchParams.set('service', service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    const basic = await this.credentials.basic(feed);
    if (basic) headers.authorization = basicAuthorization(basic);
    this.requests++;
    const res = await this.http.request(url.href, { headers, maxBytes: 1024 * 1024 }).catch(asFeedError);
    return this.readToken(res, what, feed);
  }

  private readToken(res: HttpResponse, what: string, feed: OciFeed): CachedToken {
    if (res.status === 401 || res.status === 403) {
      this.credentials.forget(feed);
      throw new FeedError(
        res.status === 401 ? 'UNAUTHORIZED' : 'DENIED',
        `${what} refused the credentials (${res.status})`,
        null,
        res.status,
      );
    }
    if (res.status < 200 || res.status >= 300)
      throw FeedError.from(statusError(res, what, registryMessage(res)));
    const body = parseAnswer(res.body, TokenAnswerSchema, `the answer of ${what}`);
    const token = (body.token ?? body.access_token) as string;
    // The distribution token spec defaults expires_in to 60 seconds; renew 10% early.
    const seconds = body.expires_in !== undefined && body.expires_in > 0 ? body.expires_in : 60;
    return { token, expiresAt: this.now() + seconds * 900 };
  }
}

function parseTagPage(res: HttpResponse, repository: string): string[] {
  return parseAnswer(res.body, TagPageSchema, `the tag list of ${repository}`).tags ?? [];
}

/** The next page from a `Link: <…>; rel="next"` header, resolved against the request; other origins refused. */
function nextLink(res: HttpResponse, requestUrl: string, origin: string): string | null {
  const header = res.headers.get('link');
  if (!header) return null;
  const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(header);
  if (!m) return null;
  let next: URL;
  try {
    next = new URL(m[1], requestUrl);
  } catch {
    throw new FeedError('BAD_RESPONSE', `the registry sent a next-page link that is not a URL`);
  }
  if (next.origin !== origin) {
    throw new FeedError(
      'BAD_RESPONSE',
      `the registry sent a next-page link to another origin (${next.origin}); refused`,
    );
  }
  return next.href;
}

function readRateLimit(res: HttpResponse): number | null {
  const header = res.headers.get('ratelimit-remaining');
  if (!header) return null;
  const n = Number.parseInt(header, 10); // Docker Hub sends "76;w=21600"
  return Number.isFinite(n) ? n : null;
}

/** The registry's own error text from an OCI error body, e.g. `NAME_UNKNOWN: repository name not known to registry`. */
function registryMessage(res: HttpResponse): string | null {
  if (res.body.length === 0) return null;
  try {
    const first = parseAnswer(res.body, RegistryErrorSchema, 'an error').errors[0];
    return (first.code ? `${first.code}: ${first.message}` : first.message).slice(0, 300);
  } catch {
    return null; // not an OCI error body: the status line speaks for it
  }
}
