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
