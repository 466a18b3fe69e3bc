import { createHash } from 'node:crypto';
import { FeedError } from './errors';
import { Feed } from './feed';
import { HelmRepositoryClient } from './helm';
import { ImageConfig, OciClient } from './oci';

/** What a feed knows of one package: its versions as tags, and how to find a version's digest. */
export interface PackageListing {
  /** Tags, or chart versions (`+` restored for OCI charts). */
  readonly tags: string[];
  readonly rateLimitRemaining: number | null;
  /** Digests known from the listing itself (Helm indexes carry them). */
  readonly digests: ReadonlyMap<string, string> | null;
}

const fingerprints = new WeakMap<PackageListing, string>();

/**
 * What package watchers and polls compare: a hash of a listing's tags and any digests it carries. Small, so
 * it is all the ledger keeps of a listing, and the same for the same tags in any order. Computed once per
 * listing (a shared listing serves many polls).
 */
export function listingFingerprint(listing: PackageListing): string {
  const known = fingerprints.get(listing);
  if (known !== undefined) return known;
  const digests = listing.digests
    ? [...listing.digests.entries()].sort(([a], [b]) => (a < b ? -1 : 1))
    : null;
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([[...listing.tags].sort(), digests]))
    .digest('hex')
    .slice(0, 32);
  fingerprints.set(listing, fingerprint);
  return fingerprint;
}

/** Lists packages of any feed kind through the right client. */
export class PackageSource {
  constructor(
    readonly oci: OciClient,
    readonly helm: HelmRepositoryClient,
  ) {}

  async list(feed: Feed, pkg: string, signal?: AbortSignal): Promise<PackageListing> {
    if (feed.type === 'helm') {
      const versions = await this.helm.chartVersions(feed, pkg, signal);
      const digests = new Map<string, string>();
      for (const v of versions) if (v.digest) digests.set(v.version, v.digest);
      return { tags: versions.map((v) => v.version), rateLimitRemaining: null, digests };
    }
    const listing = await this.oci.listTags(feed, repositoryOf(feed, pkg), signal);
    // OCI tags cannot hold `+`; Helm stores a chart version's `+` as `_`.
    const tags = feed.helm ? listing.tags.map((t) => t.replace(/_/g, '+')) : listing.tags;
    return { tags, rateLimitRemaining: listing.rateLimitRemaining, digests: null };
  }

  /** The image config of one version (labels, created); OCI images only. */
  async imageConfig(feed: Feed, pkg: string, tag: string): Promise<ImageConfig> {
    if (feed.type === 'helm')
      throw new FeedError('BAD_REQUEST', `labels need OCI images; ${feed.id} is a Helm repository`);
    return this.oci.imageConfig(feed, repositoryOf(feed, pkg), feed.helm ? tag.replace(/\+/g, '_') : tag);
  }

  /** The digest of one version: from the listing when it has it, else the manifest. */
  async digest(feed: Feed, pkg: string, tag: string, listing: PackageListing): Promise<string | null> {
    const known = listing.digests?.get(tag);
    if (known) return known;
    if (feed.type === 'helm') return null;
    const ociTag = feed.helm ? tag.replace(/\+/g, '_') : tag;
    return (await this.oci.manifest(feed, repositoryOf(feed, pkg), ociTag)).digest;
  }
}

/** The repository of a package on an OCI feed (with the feed's prefix). */
export function repositoryOf(feed: Feed, pkg: string): string {
  if (feed.type !== 'oci') throw new FeedError('BAD_REQUEST', `feed ${feed.id} is not an OCI registry`);
  return feed.repositoryPrefix ? `${feed.repositoryPrefix}/${pkg}` : pkg;
}
