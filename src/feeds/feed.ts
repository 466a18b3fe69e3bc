/** A resolved feed, as the worker knows it: where it is and how to authenticate. Never leaves the worker. */
export interface OciFeed {
  readonly id: string;
  readonly type: 'oci';
  /** Base URL of the registry API, e.g. `https://registry-1.docker.io` or `http://127.0.0.1:5000`. */
  readonly url: string;
  readonly credentials: { readonly username: string; readonly password: string } | null;
  /** Page size for tag listing; registries cap it (ECR: 1000). */
  readonly pageSize: number;
  /** Refuse repositories with more tags than this rather than exhaust memory. */
  readonly maxTags: number;
}

export type Feed = OciFeed;

export const DEFAULT_PAGE_SIZE = 1000;
export const DEFAULT_MAX_TAGS = 200_000;

/** Docker Hub's registry API lives on another host than its name (Docker's own normalisation). */
const WELL_KNOWN_HOSTS: Readonly<Record<string, string>> = {
  'docker.io': 'registry-1.docker.io',
  'index.docker.io': 'registry-1.docker.io',
};

/**
 * A feed for a bare registry host, used when a package names a host that is not a configured feed:
 * anonymous, HTTPS, except loopback hosts, which Docker also treats as insecure registries.
 */
export function implicitFeed(host: string): OciFeed {
  const apiHost = WELL_KNOWN_HOSTS[host] ?? host;
  const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(apiHost);
  return {
    id: host,
    type: 'oci',
    url: `${loopback ? 'http' : 'https'}://${apiHost}`,
    credentials: null,
    pageSize: DEFAULT_PAGE_SIZE,
    maxTags: DEFAULT_MAX_TAGS,
  };
}
