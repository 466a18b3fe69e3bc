import { compareVersions, parseVersion, Version } from './version';

/** Octopus's default: `#{Octopus.Version.LastMajor}.#{Octopus.Version.LastMinor}.#{Octopus.Version.NextPatch}`. */
export const DEFAULT_VERSION_TEMPLATE =
  '#{Octopus.Version.LastMajor}.#{Octopus.Version.LastMinor}.#{Octopus.Version.NextPatch}';

export class TemplateError extends Error {
  readonly code = 'INVALID_TEMPLATE';
}

/** What a template can refer to. */
export interface NumberingContext {
  /** The project's latest release number (by version precedence), if any. */
  readonly lastInProject: string | null;
  /** The channel's latest release number, if any. */
  readonly lastInChannel: string | null;
  readonly channelName: string;
  /** Deterministic "now" (workflow time). */
  readonly now: Date;
}

const PART_NAMES = ['Major', 'Minor', 'Patch', 'Build'] as const;
const VARIABLE = /#\{([^}]*)\}/g;

function parts(number: string | null): string[] {
  const v: Version | null = number === null ? null : parseVersion(number);
  return v === null ? ['0', '0', '0', '0'] : [v.major, v.minor, v.patch, v.revision];
}

function variables(ctx: NumberingContext): Map<string, string> {
  const vars = new Map<string, string>();
  const add = (prefix: string, last: string | null) => {
    const p = parts(last);
    PART_NAMES.forEach((name, i) => {
      vars.set(`${prefix}.Last${name}`, p[i]);
      vars.set(`${prefix}.Next${name}`, (BigInt(p[i]) + 1n).toString());
    });
  };
  add('Octopus.Version', ctx.lastInProject);
  add('Octopus.Version.Channel', ctx.lastInChannel);
  vars.set('Octopus.Release.Channel.Name', ctx.channelName);
  const d = ctx.now;
  const pad = (n: number) => String(n).padStart(2, '0');
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  vars.set('Octopus.Date.Year', String(d.getUTCFullYear()));
  vars.set('Octopus.Date.Month', pad(d.getUTCMonth() + 1));
  vars.set('Octopus.Date.Day', pad(d.getUTCDate()));
  vars.set('Octopus.Date.DayOfYear', String(Math.floor((d.getTime() - start) / 86_400_000) + 1));
  vars.set('Octopus.Time.Hour', pad(d.getUTCHours()));
  vars.set('Octopus.Time.Minute', pad(d.getUTCMinutes()));
  vars.set('Octopus.Time.Second', pad(d.getUTCSeconds()));
  return vars;
}

/** Renders an Octopus versioning template; throws TemplateError for unknown variables or a result that is not a version. */
export function renderReleaseNumber(template: string, ctx: NumberingContext): string {
  const vars = variables(ctx);
  const result = template.replace(VARIABLE, (_all, name: string) => {
    const value = vars.get(name.trim());
    if (value === undefined)
      throw new TemplateError(`unknown variable #{${name}} in the versioning template`);
    return value;
  });
  if (result.includes('#{')) throw new TemplateError('the versioning template has an unclosed #{');
  const version = parseVersion(result);
  if (version === null || version.labelOnly)
    throw new TemplateError(`the versioning template renders "${result}", which is not a version`);
  return result;
}

/** Checks a template renders for a first release and a later one (used when a project is saved). */
export function checkTemplate(template: string): void {
  const now = new Date(Date.UTC(2026, 0, 1));
  renderReleaseNumber(template, { lastInProject: null, lastInChannel: null, channelName: 'default', now });
  renderReleaseNumber(template, {
    lastInProject: '1.2.3.4',
    lastInChannel: '1.2.3',
    channelName: 'default',
    now,
  });
}

/** A donor package's version as a release number: its tag without a leading v. */
export function donorReleaseNumber(tag: string): string {
  return /^[vV]\d/.test(tag) ? tag.slice(1) : tag;
}

/** Makes a number unique among existing ones with a `-N` suffix ("a suffix makes a repeat unique"). */
export function uniqueReleaseNumber(number: string, taken: (n: string) => boolean): string {
  if (!taken(number)) return number;
  for (let i = 1; ; i++) {
    const candidate = `${number}-${i}`;
    if (!taken(candidate)) return candidate;
  }
}

/** The highest release number by version precedence (Octopus's "last" release). */
export function highestNumber(numbers: Iterable<string>): string | null {
  let best: Version | null = null;
  for (const n of numbers) {
    const v = parseVersion(n);
    if (v && (best === null || compareVersions(v, best) > 0)) best = v;
  }
  return best?.original ?? null;
}
