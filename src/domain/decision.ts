import { compileRule, CompiledRule, evaluateRule, VersionRule, VersionRuleInput } from './rule';
import { PackageStatus, Release, ReleasedPackage, TriggerSpec } from './trigger';

/** The rule for a package: the one naming it, else the one naming no package, else accept any version. */
export function ruleFor(rules: readonly VersionRule[], packageName: string): VersionRuleInput {
  return (
    rules.find((r) => r.packages?.includes(packageName)) ?? rules.find((r) => r.packages === undefined) ?? {}
  );
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

/** A stable key for a set of package versions: equal sets give equal keys. */
export function versionSetKey(packages: readonly ReleasedPackage[]): string {
  return [...packages]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((p) => `${p.name}=${p.tag}@${p.digest ?? ''}`)
    .join(',');
}

/**
 * Decides whether to release (DESIGN.md semantics 1-3): a package whose latest rule-passing version is
 * later than in the previous release (or whose tracked digest changed) makes a release that holds every
 * package at its latest rule-passing version; a channel with no release gets its first one.
 */
export function decideRelease(
  spec: Pick<TriggerSpec, 'packages' | 'rules'>,
  statuses: Readonly<Record<string, PackageStatus>>,
  previous: Release | null,
  released: ReadonlySet<string>,
): ReleaseDecision {
  const chosen: ReleasedPackage[] = [];
  const moved: string[] = [];
  for (const ref of spec.packages) {
    const latest = statuses[ref.name]?.latest ?? null;
    if (latest === null) {
      return { kind: 'no-change', reason: `no version of ${ref.name} passes the channel's rules yet` };
    }
    chosen.push({
      name: ref.name,
      feed: ref.feed,
      package: ref.package,
      tag: latest.tag,
      digest: latest.digest,
    });
    const before = previous?.packages.find((p) => p.name === ref.name);
    if (!before) {
      moved.push(`${ref.name} ${latest.tag}`);
      continue;
    }
    const rule = compileRule(ruleFor(spec.rules, ref.name));
    if (isLaterTag(rule, latest.tag, before.tag)) {
      moved.push(`${ref.name} ${before.tag} -> ${latest.tag}`);
    } else if (
      rule.trackDigest &&
      latest.tag === before.tag &&
      latest.digest !== null &&
      latest.digest !== before.digest
    ) {
      moved.push(`${ref.name} ${latest.tag} has a new digest ${latest.digest}`);
    }
  }
  if (moved.length === 0)
    return { kind: 'no-change', reason: 'no package has a later version than the previous release' };
  if (released.has(versionSetKey(chosen))) {
    return { kind: 'no-change', reason: 'this set of versions was already released' };
  }
  const reason = previous ? `later version: ${moved.join('; ')}` : `first release: ${moved.join('; ')}`;
  return { kind: 'release', packages: chosen, reason };
}
