import type { RE2JS } from 're2js';
import { LeadingLookaheads, splitLeadingLookaheads } from './leading-lookahead';

/**
 * RE2JS, loaded on first use: workflow code gets its own instance of every module it loads (per cached
 * workflow), and most triggers' rules have no regex of their own, so they never load it.
 */
function re2js(): typeof RE2JS {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('re2js') as typeof import('re2js')).RE2JS;
}

/**
 * Every regex a user supplies (tag, filter, exclude, labels) runs here, on RE2JS: RE2 semantics, linear
 * in the input whatever the pattern, pure JavaScript so it also runs inside the workflow sandbox. It is
 * the dialect of Go's regexp, which Flux and Argo CD Image Updater users already write. V8's backtracking
 * engine never sees a user's pattern (an eslint rule bans `new RegExp` outside this folder's fixed ones).
 */
export class InvalidRegexError extends Error {
  readonly code = 'INVALID_REGEX';
}

/** User regexes stay short; registries' tags are at most 128 characters anyway. */
export const MAX_REGEX_LENGTH = 512;

/** A successful match: the whole match, numbered groups and named groups. */
export interface UserRegexMatch {
  readonly index: number;
  group(n: number): string | undefined;
  named(name: string): string | undefined;
}

/** A compiled user regex with the part of the RegExp interface the rules use. */
export interface UserRegex {
  readonly source: string;
  /** Numbered capture groups (named ones included). */
  readonly groupCount: number;
  readonly groupNames: readonly string[];
  test(input: string): boolean;
  exec(input: string): UserRegexMatch | null;
}

/** Constructs RE2 refuses, named so a user knows what to rewrite. */
const UNSUPPORTED: ReadonlyArray<readonly [RegExp, string]> = [
  [/\\[1-9]/, 'backreferences (\\1) are not supported'],
  [/\\k</, 'named backreferences (\\k<name>) are not supported'],
  [/\(\?<?[=!]/, 'lookaround ((?=, (?!, (?<=, (?<!) is not supported'],
  [/\(\?>/, 'atomic groups ((?>) are not supported'],
  [/[*+?}][+]/, 'possessive quantifiers (*+, ++) are not supported'],
];

/**
 * Compiles a user's regex with RE2 semantics; throws InvalidRegexError naming `what` and the construct
 * RE2 cannot run (backreferences, lookaround), or the syntax error. A negative lookahead right after a
 * leading `^` (of the pattern or of a top-level alternative: Octopus's `^(?!beta).+`) is run as two
 * linear matches (see leading-lookahead.ts).
 */
export function compileUserRegex(source: string, what = 'regex'): UserRegex {
  if (source.length > MAX_REGEX_LENGTH)
    throw new InvalidRegexError(`${what} is longer than ${MAX_REGEX_LENGTH} characters`);
  let re: RE2JS;
  try {
    re = re2js().compile(source);
  } catch (err) {
    const split = splitLeadingLookaheads(source);
    const guarded = split && compileGuarded(source, split);
    if (guarded) return guarded;
    const known = UNSUPPORTED.find(([pattern]) => pattern.test(source));
    if (known)
      throw new InvalidRegexError(
        `${what} "${source}": ${known[1]}; user regexes use RE2 syntax (as Go, Flux and Argo CD do)`,
      );
    const reason = err instanceof Error ? err.message.replace(/^error parsing regexp: /, '') : String(err);
    throw new InvalidRegexError(`${what} "${source}" is not a valid RE2 regex: ${reason}`);
  }
  return fromRe2(source, re, () => re);
}

/** A compiled regex; `variant(input)` chooses the compiled pattern that runs on an input. */
function fromRe2(source: string, re: RE2JS, variant: (input: string) => RE2JS): UserRegex {
  const names = re.namedGroups() as Record<string, number>;
  return {
    source,
    groupCount: re.groupCount(),
    groupNames: Object.keys(names),
    test: (input) => variant(input).matcher(input).find(),
    exec(input) {
      const m = variant(input).matcher(input);
      if (!m.find()) return null;
      const index = m.start();
      return {
        index,
        group: (n) => m.group(n) ?? undefined,
        named: (name) => (name in names ? (m.group(name) ?? undefined) : undefined),
      };
    },
  };
}

/** Never matches (a boundary and a non-boundary at one place): stands for an alternative its lookahead blocks. */
const BLOCKED = '\\b\\B';

/**
 * `^(?!X)R` alternatives as RE2: each X runs anchored at the start; the alternatives whose X matched are
 * replaced by a pattern that never matches (their groups kept, so numbers and names stay the user's), and
 * the rest runs as written, leftmost-first as V8 would. One compiled variant per set of blocked
 * alternatives, made on first use. Null when a part is not valid RE2 (nested or other lookaround).
 */
function compileGuarded(source: string, split: LeadingLookaheads): UserRegex | null {
  const compile = (pattern: string): RE2JS | null => {
    try {
      return re2js().compile(pattern);
    } catch {
      return null;
    }
  };
  // Guard k is bit k of a variant's key; `bit` maps each alternative to its guard's bit (0: unguarded).
  const guards: RE2JS[] = [];
  const bit: number[] = [];
  for (const a of split.alternatives) {
    const guard = a.guard === null ? null : compile(`${split.flags}^(?:${a.guard})`);
    if (a.guard !== null && !guard) return null;
    bit.push(guard ? 1 << guards.length : 0);
    if (guard) guards.push(guard);
  }
  const patternFor = (blocked: number) =>
    split.flags + split.alternatives.map((a, i) => (blocked & bit[i] ? BLOCKED : '') + a.body).join('|');
  const open = compile(patternFor(0));
  if (!open) return null;
  const variants = new Map<number, RE2JS>([[0, open]]);
  return fromRe2(source, open, (input) => {
    let blocked = 0;
    guards.forEach((g, k) => {
      if (g.matcher(input).find()) blocked |= 1 << k;
    });
    let re = variants.get(blocked);
    if (!re) {
      re = re2js().compile(patternFor(blocked));
      variants.set(blocked, re);
    }
    return re;
  });
}
