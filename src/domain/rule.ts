import type { VersionRule, VersionRuleInput } from './rule-schema';
import { compareOrdered, compareRank, OrderName, OrderedValue, toOrderedValue } from './order';
import { parseRange, RangeSyntaxError, VersionRange } from './range';
import { TEMPLATE_REF } from './extract-template';
import { compileUserRegex, InvalidRegexError, UserRegex, UserRegexMatch } from './user-regex';
import { isTagShaped, MAX_TAG_LENGTH, MetadataOrder, Precedence, preReleaseText } from './version';

/** Signature, attestation and SBOM tags (cosign, Docker) and digests used as tags are never versions. */
export const DEFAULT_EXCLUDES: readonly string[] = ['\\.(sig|att|sbom)$', '^sha256-[0-9a-f]+'];
/** The same two, as fixed JavaScript regexes of ours (linear; no user input): no RE2 for rules without regexes. */
const DEFAULT_EXCLUDE_MATCHERS: ReadonlyArray<{ test(tag: string): boolean }> = [
  /\.(sig|att|sbom)$/,
  /^sha256-[0-9a-f]+/,
];

export type { VersionRule, VersionRuleInput } from './rule-schema';

export type RejectReason =
  'not a version' | 'filtered out' | 'excluded' | 'out of range' | 'pre-release tag does not match';

export interface Rejection {
  readonly tag: string;
  readonly reason: RejectReason;
}

export interface RuleEvaluation {
  /** The best accepted tag, or null when none passes. */
  readonly selected: string | null;
  /** Accepted tags, best first. */
  readonly accepted: readonly OrderedValue[];
  readonly rejected: readonly Rejection[];
}

/** A rule ready to run: regexes compiled and the range parsed once. */
export interface CompiledRule {
  readonly order: OrderName;
  /** How labels compare: Octopus's Docker precedence for OCI feeds, SemVer's for Helm. */
  readonly precedence: Precedence;
  readonly trackDigest: boolean;
  /** Label matchers; empty when the rule needs no image config. */
  readonly labels: ReadonlyArray<readonly [string, UserRegex]>;
  /** Minimum image age in milliseconds (0: none). */
  readonly minAgeMs: number;
  /** Whether deciding needs each candidate's image config (labels or a minimum age). */
  readonly needsImageConfig: boolean;
  /** Whether candidates must pass signature or platform checks (activities only: they need the registry). */
  readonly needsVerification: boolean;
  /** Accepted value for a tag, or the reason it is rejected. */
  check(tag: string): OrderedValue | RejectReason;
  /** Best first; `metadata` overrides the rule's order of versions equal but for build metadata. */
  compare(a: OrderedValue, b: OrderedValue, metadata?: MetadataOrder): number;
  /** Strictly later by the rule's order (ties on the ranked value are not later). */
  isLater(a: OrderedValue, than: OrderedValue): boolean;
}

/**
 * Fills the template from the match; null as soon as the value is longer than `limit`. A template of 128
 * `$1`s would otherwise build 16 KiB per tag (half a gigabyte over 30,000 tags) for a semver order that
 * reads no value past a tag's 128 characters.
 */
function expand(template: string, match: UserRegexMatch, limit: number): string | null {
  let out = '';
  let last = 0;
  for (const ref of template.matchAll(TEMPLATE_REF)) {
    const name = ref[1] ?? ref[2];
    const value = /^\d+$/.test(name) ? match.group(Number(name)) : match.named(name);
    out += template.slice(last, ref.index) + (value ?? '');
    last = ref.index + ref[0].length;
    if (out.length > limit) return null;
  }
  out += template.slice(last);
  return out.length > limit ? null : out;
}

/**
 * A validated rule with its defaults filled in. Plain code, not the schema: workflows compile rules, and
 * validation (zod) belongs at the API and in activities, out of the workflow bundle.
 */
export function withRuleDefaults(input: VersionRuleInput): VersionRule {
  return {
    ...input,
    order: input.order ?? 'semver',
    exclude: input.exclude ?? [],
    defaultExcludes: input.defaultExcludes ?? true,
    trackDigest: input.trackDigest ?? false,
    minAgeMinutes: input.minAgeMinutes ?? 0,
  };
}

/**
 * Compiles a validated rule. Throws InvalidRegexError or RangeSyntaxError for rules that skipped validation.
 * `metadata` ranks versions equal but for build metadata (see MetadataOrder); only replays need `text`.
 */
export function compileRule(
  input: VersionRuleInput = {},
  precedence: Precedence = 'docker',
  metadata: MetadataOrder = 'numeric',
): CompiledRule {
  const rule = withRuleDefaults(input);
  const filter = rule.filter !== undefined ? compileUserRegex(rule.filter, 'filter regex') : undefined;
  const excludes: Array<{ test(tag: string): boolean }> = [
    ...(rule.defaultExcludes ? DEFAULT_EXCLUDE_MATCHERS : []),
    ...rule.exclude.map((s) => compileUserRegex(s, 'exclusion regex')),
  ];
  const preRelease = rule.tag !== undefined ? compileUserRegex(rule.tag, 'pre-release tag regex') : undefined;
  const range: VersionRange | undefined = rule.range !== undefined ? parseRange(rule.range) : undefined;
  const order = rule.order;
  // A semver value longer than a tag is never a version (parseVersion); other orders rank any length.
  const valueLimit = order === 'semver' ? MAX_TAG_LENGTH : Infinity;

  const labels = Object.entries(rule.labels ?? {}).map(
    ([key, source]) => [key, compileUserRegex(source, 'label regex')] as const,
  );

  return {
    order,
    precedence,
    trackDigest: rule.trackDigest,
    labels,
    minAgeMs: rule.minAgeMinutes * 60_000,
    needsImageConfig: labels.length > 0 || rule.minAgeMinutes > 0,
    needsVerification: rule.signatures !== undefined || rule.platforms !== undefined,
    check(tag: string): OrderedValue | RejectReason {
      if (!isTagShaped(tag)) return 'not a version';
      let value: string | null = tag;
      if (filter) {
        const match = filter.exec(tag);
        if (!match) return 'filtered out';
        if (rule.extract !== undefined) value = expand(rule.extract, match, valueLimit);
      }
      if (excludes.some((re) => re.test(tag))) return 'excluded';
      // Past the limit no version parses: the same verdict, without building the value.
      if (value === null) return 'not a version';
      const ordered = toOrderedValue(order, tag, value);
      if (!ordered) return 'not a version';
      if (ordered.version) {
        if (range && !range.includes(ordered.version, precedence)) return 'out of range';
        if (preRelease && !preRelease.test(preReleaseText(ordered.version)))
          return 'pre-release tag does not match';
      }
      return ordered;
    },
    compare(a, b, by = metadata) {
      return compareOrdered(order, b, a, precedence, by);
    },
    isLater(a, than) {
      return compareRank(order, a, than, precedence) > 0;
    },
  };
}

/** Whether an image's config satisfies the rule's labels and minimum age at `nowMs` (activity time, not workflow time). */
export function imageConfigPasses(
  rule: CompiledRule,
  config: { readonly created: string | null; readonly labels: Readonly<Record<string, string>> },
  nowMs: number,
): boolean {
  const labelsOk = rule.labels.every(
    ([key, re]) => config.labels[key] !== undefined && re.test(config.labels[key]),
  );
  if (!labelsOk || rule.minAgeMs === 0) return labelsOk;
  const created = config.created === null ? NaN : Date.parse(config.created);
  // An image without a creation time cannot prove its age: it waits.
  return Number.isFinite(created) && nowMs - created >= rule.minAgeMs;
}

/** A rule's preview as the API and the CLI show it: tags exactly as given, accepted best first. */
export interface RulesPreview {
  readonly selected: string | null;
  readonly accepted: string[];
  readonly rejected: { tag: string; reason: string }[];
}

/** The preview of an evaluation. */
export function toPreview(evaluation: RuleEvaluation): RulesPreview {
  return {
    selected: evaluation.selected,
    accepted: evaluation.accepted.map((a) => a.tag),
    rejected: evaluation.rejected.map((r) => ({ tag: r.tag, reason: r.reason })),
  };
}

/** Runs a rule over tags: the selected tag, the accepted ones best first, and each rejection with its reason. */
export function evaluateRule(rule: CompiledRule, tags: Iterable<string>): RuleEvaluation {
  const accepted: OrderedValue[] = [];
  const rejected: Rejection[] = [];
  for (const tag of tags) {
    const result = rule.check(tag);
    if (typeof result === 'string') rejected.push({ tag, reason: result });
    else accepted.push(result);
  }
  accepted.sort((a, b) => rule.compare(a, b));
  return { selected: accepted.length > 0 ? accepted[0].tag : null, accepted, rejected };
}

export { InvalidRegexError, RangeSyntaxError };
