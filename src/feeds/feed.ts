/** How a feed authenticates. Secret values are resolved on the worker and never leave it. */
export type FeedAuth =
  | { readonly kind: 'anonymous' }
  /** Basic credentials, sent as Basic or traded for a Bearer token (Docker Hub, GHCR, Quay, Harbor, GAR, ACR admin). */
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  /** An OAuth2 refresh token (Docker identity token, ACR refresh token), traded by POST at the token realm. */
  | { readonly kind: 'refresh-token'; readonly refreshToken: string }
  /** Azure: an Entra ID access token exchanged at `/oauth2/exchange` for an ACR refresh token. */
  | { readonly kind: 'acr-exchange'; readonly accessToken: string; readonly tenant: string | null }
  /** Amazon ECR: GetAuthorizationToken through the AWS SDK, renewed before its 12 hours run out. */
  | {
      readonly kind: 'ecr';
      readonly region: string;
      readonly accessKeyId: string | null;
      readonly secretAccessKey: string | null;
      /** An ECR API endpoint override (tests, VPC endpoints). */
      readonly endpoint: string | null;
    };

interface FeedBase {
  readonly id: string;
  readonly auth: FeedAuth;
  /** Refuse repositories with more tags than this rather than exhaust memory. */
  readonly maxTags: number;
}

/** A resolved OCI registry feed, as the worker knows it. */
export interface OciFeed extends FeedBase {
  readonly type: 'oci';
  /** Base URL of the registry API, e.g. `https://registry-1.docker.io` or `http://127.0.0.1:5000`. */
  readonly url: string;
  /** Page size for tag listing; registries cap it (ECR: 1000). */
  readonly pageSize: number;
  /** Chart repositories in an OCI registry store `+` of versions as `_` in tags. */
  readonly helm: boolean;
  /** Path under which the feed's packages live (`oci://host/charts` has `charts`); '' for none. */
  readonly repositoryPrefix: string;
  /** Hosts besides the registry's own (and its registrable domain) that may receive credentials as token realms. */
  readonly tokenRealmHosts: readonly string[];
  /** Listing stops after this many pages, whatever the registry's `Link` headers say. */
  readonly maxPages: number;
}

/** A Helm chart repository served over HTTP(S): `index.yaml` at its URL. */
export interface HelmHttpFeed extends FeedBase {
  readonly type: 'helm';
  readonly url: string;
  /** Cap on the index size, decompressed. */
  readonly maxIndexBytes: number;
}

export type Feed = OciFeed | HelmHttpFeed;

export const DEFAULT_PAGE_SIZE = 1000;
export const DEFAULT_MAX_TAGS = 200_000;
/** Pages per listing; with 1000-tag pages that is the default tag cap. */
export const DEFAULT_MAX_PAGES = 200;
export const DEFAULT_MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** ECR answers at most 1000 tags a page. */
export const ECR_MAX_PAGE_SIZE = 1000;

/** Docker Hub's registry API lives on another host than its name (Docker's own normalisation). */
const API_HOSTS: Readonly<Record<string, string>> = {
  'docker.io': 'registry-1.docker.io',
  'index.docker.io': 'registry-1.docker.io',
};

/** The host of a registry's API for its name: `docker.io` is served by `registry-1.docker.io`. */
export function registryApiHost(registry: string): string {
  return API_HOSTS[registry] ?? registry;
}

/** Whether a host is loopback, which Docker also treats as an insecure (plain HTTP) registry. */
export function isLoopback(host: string): boolean {
  return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);
}

/**
 * Amazon ECR in all its host forms: `ACCOUNT.dkr.ecr.REGION.amazonaws.com`, FIPS (`dkr.ecr-fips`), China
 * (`.amazonaws.com.cn`), dual-stack (`ACCOUNT.dkr-ecr.REGION.on.aws`, `dkr-ecr-fips`), and ECR Public.
 */
export function isEcrHost(hostname: string): boolean {
  return (
    /^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(hostname) ||
    /^\d{12}\.dkr-ecr(-fips)?\.[a-z0-9-]+\.on\.aws$/.test(hostname) ||
    hostname === 'public.ecr.aws'
  );
}

/** The page size a registry accepts: ECR caps it at 1000. */
export function pageSizeFor(url: string, requested: number): number {
  return isEcrHost(new URL(url).hostname.toLowerCase()) ? Math.min(requested, ECR_MAX_PAGE_SIZE) : requested;
}

/** A feed for a bare registry host that is not configured: anonymous, HTTPS except on loopback. */
export function implicitFeed(host: string): OciFeed {
  const apiHost = registryApiHost(host);
  const url = `${isLoopback(apiHost) ? 'http' : 'https'}://${apiHost}`;
  return {
    id: host,
    type: 'oci',
    url,
    auth: { kind: 'anonymous' },
    pageSize: pageSizeFor(url, DEFAULT_PAGE_SIZE),
    maxTags: DEFAULT_MAX_TAGS,
    helm: false,
    repositoryPrefix: '',
    tokenRealmHosts: [],
    maxPages: DEFAULT_MAX_PAGES,
  };
}
