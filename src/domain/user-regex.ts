import type { RE2JS } from 're2js';

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
 * RE2 cannot run (backreferences, lookaround), or the syntax error.
 */
export function compileUserRegex(source: string, what = 'regex'): UserRegex {
  if (source.length > MAX_REGEX_LENGTH)
    throw new InvalidRegexError(`${what} is longer than ${MAX_REGEX_LENGTH} characters`);
  let re: RE2JS;
  try {
    re = re2js().compile(source);
  } catch (err) {
    const known = UNSUPPORTED.find(([pattern]) => pattern.test(source));
    if (known)
      throw new InvalidRegexError(
        `${what} "${source}": ${known[1]}; user regexes use RE2 syntax (as Go, Flux and Argo CD do)`,
      );
    const reason = err instanceof Error ? err.message.replace(/^error parsing regexp: /, '') : String(err);
    throw new InvalidRegexError(`${what} "${source}" is not a valid RE2 regex: ${reason}`);
  }
  const names = re.namedGroups() as Record<string, number>;
  return {
    source,
    groupCount: re.groupCount(),
    groupNames: Object.keys(names),
    test: (input) => re.matcher(input).find(),
    exec(input) {
      const m = re.matcher(input);
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
