import { MockActivityEnvironment } from '@temporalio/testing';
import { CredentialStore, EcrTokenSource } from '../../src/feeds/credentials';
import { DEFAULT_MAX_PAGES, DEFAULT_MAX_TAGS, FeedAuth, OciFeed } from '../../src/feeds/feed';
import { HelmRepositoryClient } from '../../src/feeds/helm';
import { HttpClient } from '../../src/net/http';
import { OciClient } from '../../src/feeds/oci';
import { PackageSource } from '../../src/feeds/package-source';

/** The worker's feed clients, wired as src/runtime/worker.ts wires them. */
export function feedClients(
  ecr?: EcrTokenSource,
  httpOptions: ConstructorParameters<typeof HttpClient>[0] = {},
) {
  const http = new HttpClient(httpOptions);
  const credentials = new CredentialStore(http, ecr);
  const oci = new OciClient(http, credentials);
  const helm = new HelmRepositoryClient(http, credentials);
  return { http, credentials, oci, helm, source: new PackageSource(oci, helm) };
}

/** An OCI feed at a URL with the given auth. */
export function ociFeed(
  id: string,
  url: string,
  auth: FeedAuth = { kind: 'anonymous' },
  extra: Partial<OciFeed> = {},
): OciFeed {
  return {
    id,
    type: 'oci',
    url,
    auth,
    pageSize: 1000,
    maxTags: DEFAULT_MAX_TAGS,
    helm: false,
    repositoryPrefix: '',
    tokenRealmHosts: [],
    maxPages: DEFAULT_MAX_PAGES,
    ...extra,
  };
}

/** A Basic Authorization header value. */
export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/**
 * An activity environment for calling the poll activities directly, with the start-to-close timeout the
 * trigger workflow gives them (2 minutes). The mock's own default is 1 s, and the poll activities abort
 * their reads when it passes: on a loaded box a poll that verifies signatures takes longer than that.
 */
export function pollEnvironment(): MockActivityEnvironment {
  return new MockActivityEnvironment({ startToCloseTimeoutMs: 120_000 });
}
