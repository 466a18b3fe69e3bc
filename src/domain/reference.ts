/**
 * Image and chart references normalised the way Docker and Helm do it. Pure: safe in workflows.
 * `nginx` is `docker.io/library/nginx`; `index.docker.io` is `docker.io`; ports and nested paths are kept.
 */
export interface ImageReference {
  /** Registry name as users write it, normalised (`docker.io`, `ghcr.io`, `127.0.0.1:5000`). */
  readonly registry: string;
  readonly repository: string;
  readonly tag: string | null;
  readonly digest: string | null;
}

export class ReferenceError extends Error {
  readonly code = 'INVALID_REFERENCE';
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/** The registry's canonical name: Docker Hub's aliases become `docker.io`; hosts are lower-cased. */
export function normaliseRegistry(host: string): string {
  const lower = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/** Docker Hub's official images live under `library/`. */
export function normaliseRepository(registry: string, repository: string): string {
  return registry === DOCKER_HUB && !repository.includes('/') ? `library/${repository}` : repository;
}

/** Docker's rule: the first path component is a registry when it has a dot or a port, or is `localhost`. */
function isRegistryComponent(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost';
}

/** Parses `[registry/]repository[:tag][@digest]`. */
export function parseImageReference(text: string): ImageReference {
  if (text.length === 0 || text.length > 512)
    throw new ReferenceError('an image reference must have 1 to 512 characters');
  let rest = text;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceError(`"${digest}" is not a digest`);
  }
  let tag: string | null = null;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError(`"${tag}" is not a valid tag`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  if (parts.length > 1 && isRegistryComponent(parts[0]))
    registry = normaliseRegistry(parts.shift() as string);
  for (const part of parts) {
    if (!COMPONENT.test(part))
      throw new ReferenceError(
        `"${part}" is not a valid repository path component (lower case, digits, . _ -)`,
      );
  }
  return { registry, repository: normaliseRepository(registry, parts.join('/')), tag, digest };
}

export type HelmReference =
  | { readonly kind: 'oci'; readonly registry: string; readonly repository: string }
  | { readonly kind: 'http'; readonly url: string; readonly chart: string };

/** `oci://host/path/chart`, or an HTTP(S) repository URL plus a chart name. */
export function parseHelmReference(repository: string, chart?: string): HelmReference {
  if (repository.startsWith('oci://')) {
    const image = parseImageReference(repository.slice('oci://'.length));
    if (image.tag !== null || image.digest !== null)
      throw new ReferenceError('an oci:// chart reference names no tag or digest');
    return { kind: 'oci', registry: image.registry, repository: image.repository };
  }
  let url: URL;
  try {
    url = new URL(repository);
  } catch {
    throw new ReferenceError(`"${repository}" is neither oci://… nor an HTTP(S) repository URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ReferenceError(`"${repository}" must use http, https or oci`);
  if (!chart || !/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/.test(chart))
    throw new ReferenceError('an HTTP Helm repository needs a chart name');
  return { kind: 'http', url: url.href.replace(/\/+$/, ''), chart };
}
