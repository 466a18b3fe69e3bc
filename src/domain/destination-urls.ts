import type { Destination, Environment } from './project';

/** Where an Octopus destination creates releases: the URL its API key is sent to. */
export function octopusReleasesUrl(d: { serverUrl: string; spaceId: string }): string {
  return `${d.serverUrl.replace(/\/+$/, '')}/api/${d.spaceId}/releases`;
}

/** Each secret a project's destinations use, with the URL it would be sent to and the field naming it. */
export function secretUses(
  destinations: readonly Destination[],
): Array<{ secret: string; url: string; field: string }> {
  return destinations.flatMap((d, i) => {
    if (d.type === 'webhook')
      return d.signingSecret
        ? [{ secret: d.signingSecret.secret, url: d.url, field: `destinations.${i}.signingSecret.secret` }]
        : [];
    return [
      { secret: d.apiKey.secret, url: octopusReleasesUrl(d), field: `destinations.${i}.apiKey.secret` },
    ];
  });
}

/** The same for environments' deployment targets, with each target's URL and the field naming it. */
export function targetUses(environments: readonly Environment[]): {
  secrets: Array<{ secret: string; url: string; field: string }>;
  urls: Array<{ url: string; field: string }>;
} {
  const secrets: Array<{ secret: string; url: string; field: string }> = [];
  const urls: Array<{ url: string; field: string }> = [];
  environments.forEach((env, i) =>
    env.targets.forEach((t, j) => {
      const at = `environments.${i}.targets.${j}`;
      if (t.type === 'octopus') {
        urls.push({ url: t.serverUrl, field: `${at}.serverUrl` });
        secrets.push({ secret: t.apiKey.secret, url: octopusReleasesUrl(t), field: `${at}.apiKey.secret` });
        return;
      }
      // An ssh:// remote's host is checked like an HTTP one's.
      urls.push({
        url: t.url.startsWith('ssh://') ? `http://${new URL(t.url).host}/` : t.url,
        field: `${at}.url`,
      });
      if (t.type === 'webhook' && t.signingSecret)
        secrets.push({ secret: t.signingSecret.secret, url: t.url, field: `${at}.signingSecret.secret` });
      if (t.type === 'git' && t.credentials)
        secrets.push({ secret: t.credentials.secret, url: t.url, field: `${at}.credentials.secret` });
      if (t.type === 'git' && t.sshKey)
        secrets.push({ secret: t.sshKey.secret, url: t.url, field: `${at}.sshKey.secret` });
    }),
  );
  return { secrets, urls };
}
