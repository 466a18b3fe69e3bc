/**
 * Versions in Octopus Deploy's permissive scheme: optional v, up to four numeric parts, an optional
 * `.`, `-` or `_` before a pre-release label, and `+metadata`. A tag with no leading digits is
 * 0.0.0.0 with the whole tag as its label (`latest` is 0.0.0.0-latest).
 * Pure: runs inside the workflow sandbox.
 */
export interface Version {
  /** The tag exactly as the registry gave it. */
  readonly original: string;
  /** Numeric parts as digit strings without leading zeros, so date-sized numbers compare exactly. */
  readonly major: string;
  readonly minor: string;
  readonly patch: string;
  readonly revision: string;
  /** Pre-release label ('' for a release). */
  readonly label: string;
  /** Build metadata after `+` ('' for none). */
  readonly metadata: string;
  /** True when the tag had no leading digits and is only a label. */
  readonly labelOnly: boolean;
  /** The label's dot-separated identifiers (SemVer/NuGet precedence), split once so sorting stays fast. */
  readonly labelIds: readonly string[];
  /** The label split on every character that is not a letter or digit (Octopus's Docker precedence). */
  readonly dockerIds: readonly string[];
}

/**
 * How pre-release labels compare, as Octopus Deploy has it per feed type:
 * - `docker` (OCI/Docker feeds; Octopus's OctopusVersion): the label is split on every character that is
 *   not a letter or digit (`.`, `-`, `_`), so `1.31-alpine3.23-otel` < `1.31-alpine3.24`;
 * - `semver` (Helm, like Octopus's NuGet/SemVer feeds): split on `.` only (SemVer 2.0).
 * In both, numeric identifiers compare as numbers and below alphanumeric ones, and alphanumeric
 * identifiers compare case-insensitively (NuGet's OrdinalIgnoreCase).
 */
export type Precedence = 'docker' | 'semver';
export const PRECEDENCES: readonly Precedence[] = ['docker', 'semver'];

/** Registries allow at most 128 characters in a tag (OCI distribution spec). */
export const MAX_TAG_LENGTH = 128;
// The OCI tag grammar, widened by `+` because Helm chart versions carry build metadata.
const TAG_CHARACTERS = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;
const NUMERIC_PREFIX = /^[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?/;
const LABEL = /^[0-9A-Za-z._-]+$/;
const METADATA = /^[0-9A-Za-z._-]+$/;

/** Whether a string could be a registry tag at all (length and characters). */
export function isTagShaped(tag: string): boolean {
  return tag.length > 0 && tag.length <= MAX_TAG_LENGTH && TAG_CHARACTERS.test(tag);
}

/** Parses a tag; returns null when it is not a version (too long, bad characters, malformed). */
export function parseVersion(tag: string): Version | null {
  if (!isTagShaped(tag)) return null;
  const plus = tag.indexOf('+');
  const main = plus === -1 ? tag : tag.slice(0, plus);
  const metadata = plus === -1 ? '' : tag.slice(plus + 1);
  if (plus !== -1 && !METADATA.test(metadata)) return null;

  const numeric = NUMERIC_PREFIX.exec(main);
  if (!numeric) {
    if (!LABEL.test(main)) return null;
    return {
      original: tag,
      major: '0',
      minor: '0',
      patch: '0',
      revision: '0',
      label: main,
      metadata,
      labelOnly: true,
      labelIds: main.split('.'),
      dockerIds: dockerIds(main),
    };
  }
  let rest = main.slice(numeric[0].length);
  if (rest.length > 0 && (rest[0] === '.' || rest[0] === '-' || rest[0] === '_')) rest = rest.slice(1);
  if (rest.length > 0 && !LABEL.test(rest)) return null;
  if (rest.length === 0 && main.length > numeric[0].length) return null; // a dangling separator: `1.0-`
  return {
    original: tag,
    major: trimZeros(numeric[1]),
    minor: trimZeros(numeric[2]),
    patch: trimZeros(numeric[3]),
    revision: trimZeros(numeric[4]),
    label: rest,
    metadata,
    labelOnly: false,
    labelIds: rest === '' ? [] : rest.split('.'),
    dockerIds: rest === '' ? [] : dockerIds(rest),
  };
}

function dockerIds(label: string): string[] {
  return label.split(/[^A-Za-z0-9]/);
}

function trimZeros(digits: string | undefined): string {
  if (digits === undefined) return '0';
  const trimmed = digits.replace(/^0+/, '');
  return trimmed === '' ? '0' : trimmed;
}

/** Compares two digit strings without leading zeros as unbounded integers. */
export function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const DIGITS = /^\d+$/;

function compareIdentifiers(a: string, b: string): number {
  const aNum = DIGITS.test(a);
  const bNum = DIGITS.test(b);
  if (aNum && bNum) return compareDigits(trimZeros(a), trimZeros(b));
  if (aNum) return -1; // numeric identifiers have lower precedence than alphanumeric ones
  if (bNum) return 1;
  // Case-insensitive, as NuGet and Octopus compare labels (`M04` and `m04` are the same precedence).
  const au = a.toUpperCase();
  const bu = b.toUpperCase();
  return au < bu ? -1 : au > bu ? 1 : 0;
}

function compareLabels(a: Version, b: Version, precedence: Precedence): number {
  if (a.label === b.label) return 0;
  if (a.label === '') return 1; // a release outranks any of its pre-releases
  if (b.label === '') return -1;
  const aIds = precedence === 'docker' ? a.dockerIds : a.labelIds;
  const bIds = precedence === 'docker' ? b.dockerIds : b.labelIds;
  for (let i = 0; i < Math.min(aIds.length, bIds.length); i++) {
    const c = compareIdentifiers(aIds[i], bIds[i]);
    if (c !== 0) return c;
  }
  return aIds.length === bIds.length ? 0 : aIds.length < bIds.length ? -1 : 1;
}

/** Octopus precedence: four numeric parts, then the label by the feed's rule; metadata does not count. */
export function compareVersions(a: Version, b: Version, precedence: Precedence = 'docker'): number {
  return (
    compareDigits(a.major, b.major) ||
    compareDigits(a.minor, b.minor) ||
    compareDigits(a.patch, b.patch) ||
    compareDigits(a.revision, b.revision) ||
    compareLabels(a, b, precedence)
  );
}

/**
 * How versions of equal precedence that differ in build metadata rank among themselves (the metadata never
 * makes one *later*). `numeric`: identifier by identifier, numbers as numbers, so `1.3.1+build.10` ranks
 * above `1.3.1+build.9` (the chart Helm installs from an index `helm repo index` wrote); `text`: by the tag
 * text (`+build.9` above `+build.10`), as running triggers decided before, kept for their replay.
 */
export type MetadataOrder = 'numeric' | 'text';

/** Build metadata, identifier by identifier (`.`-separated, numeric-aware); none ranks below any. */
export function compareMetadata(a: Version, b: Version): number {
  if (a.metadata === b.metadata) return 0;
  if (a.metadata === '') return -1;
  if (b.metadata === '') return 1;
  const aIds = a.metadata.split('.');
  const bIds = b.metadata.split('.');
  for (let i = 0; i < Math.min(aIds.length, bIds.length); i++) {
    const c = compareIdentifiers(aIds[i], bIds[i]);
    if (c !== 0) return c;
  }
  return aIds.length === bIds.length ? 0 : aIds.length < bIds.length ? -1 : 1;
}

/**
 * A total order on tags: precedence first, then build metadata (numeric-aware unless `text`), then the tag
 * text, so sorting is stable and repeatable.
 */
export function compareVersionTags(
  a: Version,
  b: Version,
  precedence: Precedence = 'docker',
  metadata: MetadataOrder = 'numeric',
): number {
  const c = compareVersions(a, b, precedence) || (metadata === 'numeric' ? compareMetadata(a, b) : 0);
  if (c !== 0) return c;
  return a.original < b.original ? -1 : a.original > b.original ? 1 : 0;
}

/** The label and metadata as Octopus's pre-release tag regex sees them: `label+metadata`. */
export function preReleaseText(v: Version): string {
  return v.metadata === '' ? v.label : `${v.label}+${v.metadata}`;
}
