/**
 * Registry and repository names normalised the way Docker does it. Pure: safe in workflows.
 * `nginx` is `docker.io/library/nginx`; `index.docker.io` is `docker.io`; ports and nested paths are kept.
 */
export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);

/** The registry's canonical name: Docker Hub's aliases become `docker.io`; hosts are lower-cased. */
export function normaliseRegistry(host: string): string {
  const lower = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/** Docker Hub's official images live under `library/`. */
export function normaliseRepository(registry: string, repository: string): string {
  return registry === DOCKER_HUB && !repository.includes('/') ? `library/${repository}` : repository;
}
