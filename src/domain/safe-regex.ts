import safeRegex from 'safe-regex2';

export class UnsafeRegexError extends Error {
  readonly code = 'INVALID_REGEX';
}

/** User regexes stay short; registries' tags are at most 128 characters anyway. */
export const MAX_REGEX_LENGTH = 512;

/**
 * Compiles a user's regex, refusing what would not compile and what could backtrack
 * catastrophically (nested quantifiers, star height above one).
 */
export function compileUserRegex(source: string, what = 'regex'): RegExp {
  if (source.length > MAX_REGEX_LENGTH) {
    throw new UnsafeRegexError(`${what} is longer than ${MAX_REGEX_LENGTH} characters`);
  }
  let re: RegExp;
  try {
    re = new RegExp(source);
  } catch (err) {
    const reason =
      err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err);
    throw new UnsafeRegexError(`${what} does not compile: ${reason}`);
  }
  if (!safeRegex(re)) {
    throw new UnsafeRegexError(
      `${what} "${source}" could backtrack catastrophically (a quantifier inside a quantified group); rewrite it without nested repetition`,
    );
  }
  return re;
}
