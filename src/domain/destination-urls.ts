import type { Destination } from './project';

/** Where an Octopus destination creates releases: the URL its API key is sent to. */
export function octopusReleasesUrl(d: Extract<Destination, { type: 'octopus' }>): string {
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
