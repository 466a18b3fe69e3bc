import { parseVersion } from './version';

/**
 * The next release number under Octopus's default template
 * `#{Octopus.Version.LastMajor}.#{Octopus.Version.LastMinor}.#{Octopus.Version.NextPatch}`: 0.0.1 first.
 */
export function nextReleaseNumber(previous: string | null): string {
  const last = previous === null ? null : parseVersion(previous);
  if (last === null) return '0.0.1';
  return `${last.major}.${last.minor}.${BigInt(last.patch) + 1n}`;
}
