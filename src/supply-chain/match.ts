import type { FieldMatch } from '../domain/rule-schema';
import { compileUserRegex } from '../domain/user-regex';

/** A matcher for a field a rule names exactly or by pattern (a builder id, a repository, an identity). */
export interface Matcher {
  /** What the rule asks, as reasons show it (`https://github.com/acme/web` or `/https://github\.com/acme/.*\/`). */
  readonly text: string;
  test(value: string): boolean;
}

/** `*` matches any run of characters, the rest literally (for refs: git forbids `*` in ref names). */
function globMatcher(pattern: string): Matcher {
  const parts = pattern.split('*');
  return {
    text: pattern,
    test(value) {
      if (parts.length === 1) return value === pattern;
      const [first, ...rest] = parts;
      const last = rest.pop() ?? '';
      if (!value.startsWith(first) || value.length < first.length + last.length || !value.endsWith(last))
        return false;
      // Each middle part at its earliest place: that leaves the most room for the rest, so it is exact.
      let at = first.length;
      const end = value.length - last.length;
      for (const part of rest) {
        const found = value.indexOf(part, at);
        if (found < 0 || found + part.length > end) return false;
        at = found + part.length;
      }
      return true;
    },
  };
}

/**
 * Compiles a rule's match: a string is exact (a `*` glob where `glob`), `{ regex }` an RE2 regex (the
 * project's linear-time engine) that must match the whole value, so `acme/` does not pass `acme/web-fork`.
 */
export function matcher(match: FieldMatch, what: string, glob = false): Matcher {
  if (typeof match === 'string') return glob ? globMatcher(match) : { text: match, test: (v) => v === match };
  // Validated first as written, so an error names the user's pattern; then anchored to the whole value.
  compileUserRegex(match.regex, what);
  const re = compileUserRegex(`^(?:${match.regex})$`, what);
  return { text: `/${match.regex}/`, test: (v) => re.test(v) };
}
