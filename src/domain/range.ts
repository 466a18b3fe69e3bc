import type { Range as NpmRange, SemVer } from 'semver';

/**
 * semver, loaded on first use: the workflow code's own modules are shared by every cached workflow and
 * frozen (see src/runtime/workflow-bundle.ts), but semver's global regexes write their `lastIndex`, which a frozen
 * module refuses. Loaded here, inside a workflow, it is that workflow's own instance; only rules with npm
 * ranges load it.
 */
function semver(): typeof import('semver') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('semver') as typeof import('semver');
}
import { compareVersions, parseVersion, Precedence, Version } from './version';

/**
 * Version ranges in the two notations users bring:
 * - NuGet/Maven intervals as Octopus channels use them: `[1.0,2.0)`, `(,1.0]`, `[1.2.3]`, and a bare
 *   version `1.5` meaning "at least 1.5". Membership is pure precedence comparison.
 * - npm ranges (`^1.2`, `~1.2.3`, `>=1 <2`, `1.x`, `1 - 2`, `||`), with npm's pre-release rules.
 * The notation is recognised from the text: brackets or a bare version mean NuGet, anything else npm.
 */
export interface VersionRange {
  readonly notation: 'nuget' | 'npm';
  readonly text: string;
  /** Membership by the feed's precedence (NuGet intervals; npm ranges have their own rules). */
  includes(v: Version, precedence?: Precedence): boolean;
}

export class RangeSyntaxError extends Error {
  readonly code = 'INVALID_RANGE';
}

interface Bound {
  version: Version;
  inclusive: boolean;
}

const MAX_RANGE_LENGTH = 256;
/** `1.x`, `1.2.X`: npm x-ranges, which would otherwise parse as versions with a label. */
const X_RANGE = /^[vV]?\d+(?:\.(?:\d+|[xX*]))*\.[xX*](?:\.(?:\d+|[xX*]))*$/;

/** Parses a range in NuGet interval or npm notation; throws RangeSyntaxError with a reason. */
export function parseRange(text: string): VersionRange {
  const trimmed = text.trim();
  if (trimmed === '') throw new RangeSyntaxError('range is empty');
  if (trimmed.length > MAX_RANGE_LENGTH)
    throw new RangeSyntaxError(`range is longer than ${MAX_RANGE_LENGTH} characters`);
  if (trimmed.startsWith('[') || trimmed.startsWith('(')) return parseInterval(trimmed);
  const bare =
    /^[vV]?\d/.test(trimmed) && !/[\s^~<>=|*]/.test(trimmed) && !X_RANGE.test(trimmed)
      ? parseVersion(trimmed)
      : null;
  if (bare) {
    return nugetRange(trimmed, { version: bare, inclusive: true }, undefined);
  }
  return parseNpmRange(trimmed);
}

function parseInterval(text: string): VersionRange {
  const open = text[0];
  const close = text[text.length - 1];
  if (close !== ']' && close !== ')') throw new RangeSyntaxError(`interval "${text}" must end with ] or )`);
  const inner = text.slice(1, -1);
  const parts = inner.split(',');
  if (parts.length > 2) throw new RangeSyntaxError(`interval "${text}" has more than one comma`);
  const bound = (raw: string, inclusive: boolean, side: string): Bound | undefined => {
    const t = raw.trim();
    if (t === '') return undefined;
    const version = parseVersion(t);
    if (!version || version.labelOnly)
      throw new RangeSyntaxError(`${side} bound "${t}" of "${text}" is not a version`);
    return { version, inclusive };
  };
  if (parts.length === 1) {
    // `[1.2.3]` is exactly that version; `(1.2.3)` can hold nothing and is refused as NuGet does.
    if (open !== '[' || close !== ']')
      throw new RangeSyntaxError(`"${text}": a single version needs [ and ]`);
    const exact = bound(parts[0], true, 'the');
    if (!exact) throw new RangeSyntaxError(`"${text}" names no version`);
    return nugetRange(text, exact, exact);
  }
  const min = bound(parts[0], open === '[', 'lower');
  const max = bound(parts[1], close === ']', 'upper');
  if (!min && !max) throw new RangeSyntaxError(`interval "${text}" has neither a lower nor an upper bound`);
  if (min && max) {
    const c = compareVersions(min.version, max.version);
    if (c > 0 || (c === 0 && !(min.inclusive && max.inclusive))) {
      throw new RangeSyntaxError(`interval "${text}" is empty: its lower bound is not below its upper bound`);
    }
  }
  if (min === undefined && open === '[')
    throw new RangeSyntaxError(`interval "${text}": an open lower end needs (`);
  if (max === undefined && close === ']')
    throw new RangeSyntaxError(`interval "${text}": an open upper end needs )`);
  return nugetRange(text, min, max);
}

function nugetRange(text: string, min: Bound | undefined, max: Bound | undefined): VersionRange {
  return {
    notation: 'nuget',
    text,
    includes(v: Version, precedence: Precedence = 'docker'): boolean {
      if (min) {
        const c = compareVersions(v, min.version, precedence);
        if (c < 0 || (c === 0 && !min.inclusive)) return false;
      }
      if (max) {
        const c = compareVersions(v, max.version, precedence);
        if (c > 0 || (c === 0 && !max.inclusive)) return false;
      }
      return true;
    },
  };
}

function parseNpmRange(text: string): VersionRange {
  let range: NpmRange;
  try {
    range = new (semver().Range)(text);
  } catch {
    throw new RangeSyntaxError(`"${text}" is neither a NuGet interval nor an npm range`);
  }
  return {
    notation: 'npm',
    text,
    includes(v: Version): boolean {
      const semver = toSemVer(v);
      return semver !== null && range.test(semver);
    },
  };
}

const MAX_SAFE_DIGITS = 15;

/** Maps a permissive version onto SemVer for npm ranges; a revision part travels as build metadata. */
function toSemVer(v: Version): SemVer | null {
  if ([v.major, v.minor, v.patch].some((d) => d.length > MAX_SAFE_DIGITS)) return null;
  const label = v.label
    .replace(/_/g, '-')
    .split('.')
    .map((id) => (/^\d+$/.test(id) ? id.replace(/^0+(?=\d)/, '') : id))
    .join('.');
  const build = [v.revision !== '0' ? v.revision : '', v.metadata.replace(/_/g, '-')]
    .filter((s) => s !== '')
    .join('.');
  const text = `${v.major}.${v.minor}.${v.patch}${label ? `-${label}` : ''}${build ? `+${build}` : ''}`;
  try {
    return new (semver().SemVer)(text);
  } catch {
    return null;
  }
}
