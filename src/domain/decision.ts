import { compileRule, CompiledRule, evaluateRule, VersionRule, VersionRuleInput } from './rule';
import { PackageRef, PackageStatus, ReleasedPackage } from './trigger';
import type { Precedence } from './version';

/** The rule for a package: the one naming it, else the one naming no package, else accept any version. */
export function ruleFor(rules: readonly VersionRule[], packageName: string): VersionRuleInput {
  return (
    rules.find((r) => r.packages?.includes(packageName)) ?? rules.find((r) => r.packages === undefined) ?? {}
  );
}

/** The package's tag in the channel's previous release (a poll's watermark), or null. */
export function watermarkIn(
  lastRelease: { readonly packages: readonly { readonly name: string; readonly tag: string }[] } | null,
  packageName: string,
): string | null {
  return lastRelease?.packages.find((p) => p.name === packageName)?.tag ?? null;
}

/** Re-evaluates a poll's candidates with the rule: the best accepted tag, or null. */
export function bestCandidate(rule: CompiledRule, candidates: readonly string[]): string | null {
  return evaluateRule(rule, candidates).selected;
}

/** Whether `tag` is strictly later than `than` under the rule; a `than` the rule cannot rank is no bar. */
export function isLaterTag(rule: CompiledRule, tag: string, than: string): boolean {
  const a = rule.check(tag);
  const b = rule.check(than);
  if (typeof a === 'string') return false;
  if (typeof b === 'string') return true;
  return rule.isLater(a, b);
}

export type ReleaseDecision =
  | { readonly kind: 'release'; readonly packages: ReleasedPackage[]; readonly reason: string }
  | { readonly kind: 'no-change'; readonly reason: string };

/** A package reference at a chosen version. */
export function releasedPackage(
  ref: PackageRef,
  version: { tag: string; digest: string | null },
  precedence: Precedence = 'docker',
): ReleasedPackage {
  return {
    name: ref.name,
    feed: ref.feed,
    package: ref.package,
    tag: version.tag,
    digest: version.digest,
    ...(precedence !== 'docker' ? { precedence } : {}),
  };
}

/** A stable key for a set of package versions: equal sets give equal keys. */
export function versionSetKey(packages: readonly ReleasedPackage[]): string {
  return [...packages]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((p) => `${p.name}=${p.tag}@${p.digest ?? ''}`)
    .join(',');
}

/**
 * A trigger's release never takes a package back: each package it takes along (one it does not watch) that
 * the channel's previous release holds at a later version, which the channel's rule still accepts, keeps that
 * version. The trigger read the package before the previous release was made (two packages pushed moments
 * apart, each released by its own trigger: the second release to land would otherwise move the first one's
 * package back), so the previous release's version is what a read now would find at least. Not kept: a
 * version the rule now refuses (the channel's rules changed: the older version is the right one), one of
 * another image (the package's feed or name changed), and versions under rules that need the registry to
 * check (image labels or age, signatures, platforms), which only a poll can tell. `kept` says what was kept.
 */
export function keepTakenAlong(
  rules: readonly VersionRule[],
  chosen: readonly ReleasedPackage[],
  previous: { readonly packages: readonly ReleasedPackage[] } | null,
  watched: readonly string[],
): { packages: ReleasedPackage[]; kept: string[] } {
  const kept: string[] = [];
  const packages = chosen.map((pkg) => {
    if (watched.includes(pkg.name)) return pkg;
    const before = previous?.packages.find((p) => p.name === pkg.name);
    if (!before || before.feed !== pkg.feed || before.package !== pkg.package) return pkg;
    if ((before.precedence ?? 'docker') !== (pkg.precedence ?? 'docker')) return pkg;
    const rule = compileRule(ruleFor(rules, pkg.name), pkg.precedence ?? 'docker');
    if (rule.needsImageConfig || rule.needsVerification) return pkg;
    // A version the rule refuses is never later (isLaterTag).
    if (!isLaterTag(rule, before.tag, pkg.tag)) return pkg;
    kept.push(`${pkg.name} ${before.tag} (read ${pkg.tag})`);
    return before;
  });
  return { packages, kept };
}

/** What moved between a previous release and a candidate set, among the named packages (empty: nothing later). */
export function movedPackages(
  rules: readonly VersionRule[],
  chosen: readonly ReleasedPackage[],
  previous: { readonly packages: readonly ReleasedPackage[] } | null,
  names: readonly string[],
): string[] {
  const moved: string[] = [];
  for (const pkg of chosen) {
    if (!names.includes(pkg.name)) continue;
    const before = previous?.packages.find((p) => p.name === pkg.name);
    if (!before) {
      moved.push(`${pkg.name} ${pkg.tag}`);
      continue;
    }
    const rule = compileRule(ruleFor(rules, pkg.name), pkg.precedence ?? 'docker');
    if (isLaterTag(rule, pkg.tag, before.tag)) {
      moved.push(`${pkg.name} ${before.tag} -> ${pkg.tag}`);
    } else if (
      rule.trackDigest &&
      pkg.tag === before.tag &&
      pkg.digest !== null &&
      pkg.digest !== before.digest
    ) {
      moved.push(`${pkg.name} ${pkg.tag} has a new digest ${pkg.digest}`);
    }
  }
  return moved;
}

/**
 * Decides whether to release (later, content, never twice: docs/concepts.md): a watched package whose latest rule-passing version
 * is later than in the channel's previous release (or whose tracked digest changed) makes a release that
 * holds every package at its latest rule-passing version; a channel with no release gets its first one.
 */
export function decideRelease(
  packages: readonly PackageRef[],
  rules: readonly VersionRule[],
  statuses: Readonly<Record<string, PackageStatus>>,
  previous: { readonly packages: readonly ReleasedPackage[] } | null,
  watched: readonly string[],
): ReleaseDecision {
  // Watched packages first: when none moved, that is the answer, whatever the others hold.
  const ordered = [...packages].sort(
    (a, b) => Number(!watched.includes(a.name)) - Number(!watched.includes(b.name)),
  );
  const chosen: ReleasedPackage[] = [];
  for (const ref of ordered) {
    const status = statuses[ref.name];
    const latest = status?.latest ?? null;
    if (latest === null)
      return { kind: 'no-change', reason: `no version of ${ref.name} passes the channel's rules yet` };
    chosen.push(releasedPackage(ref, latest, status.precedence));
    if (
      chosen.length === watched.length &&
      previous &&
      movedPackages(rules, chosen, previous, watched).length === 0
    )
      break;
  }
  if (chosen.length < packages.length)
    return {
      kind: 'no-change',
      reason: "no watched package has a later version than the channel's previous release",
    };
  // Back in the project's package order, as releases list them.
  chosen.sort(
    (a, b) => packages.findIndex((p) => p.name === a.name) - packages.findIndex((p) => p.name === b.name),
  );
  const moved = movedPackages(rules, chosen, previous, watched);
  if (moved.length === 0)
    return {
      kind: 'no-change',
      reason: "no watched package has a later version than the channel's previous release",
    };
  const reason = previous ? `later version: ${moved.join('; ')}` : `first release: ${moved.join('; ')}`;
  return { kind: 'release', packages: chosen, reason };
}

/** A short stable hash (FNV-1a, 64 bits as hex) for idempotency keys; deterministic in workflows. */
export function stableHash(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}
