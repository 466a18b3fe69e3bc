import { getDomain } from 'tldts';
import { isLoopback } from './feed';

/**
 * Public registries whose token service lives on a host of another name. Docker Hub's is covered by the
 * registrable-domain rule too (docker.io); listed so the rule's one real exception is written down.
 */
const KNOWN_REALM_HOSTS: Readonly<Record<string, readonly string[]>> = {
  'registry-1.docker.io': ['auth.docker.io'],
};

/**
 * Whether a registry's `WWW-Authenticate` realm may receive the feed's credentials: over HTTPS (plain HTTP
 * only between loopback hosts), and only at the registry's own host, a host under the same registrable
 * domain (public suffix list, private suffixes included, so `evil.github.io` is not `github.io`), or a
 * host the feed's configuration lists. Returns the reason when not.
 */
export function realmRefusal(
  registryUrl: string,
  realm: URL,
  extraHosts: readonly string[] = [],
): string | null {
  const registry = new URL(registryUrl);
  const realmHost = realm.hostname.toLowerCase();
  const registryHost = registry.hostname.toLowerCase();
  if (realm.protocol !== 'https:') {
    const loopbackPair = realm.protocol === 'http:' && isLoopback(registry.host) && isLoopback(realm.host);
    if (!loopbackPair) return 'credentials go to a token realm only over https (plain http only on loopback)';
  }
  if (realm.username !== '' || realm.password !== '') return 'the realm URL carries credentials of its own';
  if (realmHost === registryHost) return null;
  if (extraHosts.map((h) => h.toLowerCase()).includes(realmHost)) return null;
  if ((KNOWN_REALM_HOSTS[registryHost] ?? []).includes(realmHost)) return null;
  const options = { allowPrivateDomains: true };
  const registryDomain = getDomain(registryHost, options);
  if (registryDomain !== null && registryDomain === getDomain(realmHost, options)) return null;
  return `${realmHost} is neither the registry's host nor under its domain; list it in the feed's tokenRealmHosts to allow it`;
}
