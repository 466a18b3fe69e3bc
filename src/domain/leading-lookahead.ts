/**
 * Octopus's channel documentation writes "every pre-release but beta" as `^(?!beta).+` (and users write
 * `^(?!latest\b).+$|^$`). RE2 has no lookaround, but a negative lookahead right after a leading `^` only
 * looks at the start of the input, so `^(?!X)R` is "R matches at the start and X does not": two linear
 * matches. This splits such a pattern; anything else (a lookahead elsewhere, nested, positive, behind)
 * is left for the caller to refuse.
 * Pure: runs inside the workflow sandbox.
 */
export interface LeadingLookaheads {
  /** A leading inline flag group (`(?i)`), applied to every part. */
  readonly flags: string;
  /** The top-level alternatives, each with its lookahead (null: none) and the rest, `^` included. */
  readonly alternatives: ReadonlyArray<{ readonly guard: string | null; readonly body: string }>;
}

/** At most this many guarded alternatives: the matcher keeps one compiled variant per subset of them. */
export const MAX_GUARDS = 4;

const FLAGS = /^\(\?[imsU]+\)/;

/** The pattern split at its leading negative lookaheads, or null when it is not of that shape. */
export function splitLeadingLookaheads(source: string): LeadingLookaheads | null {
  const flags = FLAGS.exec(source)?.[0] ?? '';
  // With `m`, `^` also matches after each newline, where the lookahead is checked again: the guard here is
  // checked at the start of the input only.
  if (flags.includes('m')) return null;
  const rest = source.slice(flags.length);
  const parts = topLevelAlternatives(rest);
  if (parts === null) return null;
  const alternatives: Array<{ guard: string | null; body: string }> = [];
  for (const part of parts) {
    if (!part.startsWith('^(?!')) {
      alternatives.push({ guard: null, body: part });
      continue;
    }
    const close = groupEnd(part, 1);
    if (close === -1) return null;
    const guard = part.slice(4, close);
    // A capture group inside the lookahead would shift the pattern's group numbers.
    if (guard === '' || capturesIn(guard)) return null;
    // A quantified lookahead (`(?!a)?`, `*`, `{0}`) may match zero times: it guards nothing in V8, so it is
    // not the "R and not X" this split runs.
    if (/^[?*+{]/.test(part.slice(close + 1))) return null;
    alternatives.push({ guard, body: `^${part.slice(close + 1)}` });
  }
  const guards = alternatives.filter((a) => a.guard !== null).length;
  if (guards === 0 || guards > MAX_GUARDS) return null;
  return { flags, alternatives };
}

/**
 * Splits at `|` outside groups and character classes; null for a pattern with a flag group past its
 * start (flags that would reach across alternatives) or unbalanced parentheses.
 */
function topLevelAlternatives(source: string): string[] | null {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i = escapeEnd(source, i);
      continue;
    }
    if (c === '[') {
      i = classEnd(source, i);
      if (i === -1) return null;
      continue;
    }
    if (c === '(') {
      if (depth === 0 && FLAGS.test(source.slice(i))) return null;
      depth++;
    } else if (c === ')') {
      if (--depth < 0) return null;
    } else if (c === '|' && depth === 0) {
      parts.push(source.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return null;
  parts.push(source.slice(start));
  return parts;
}

/** The index of the `)` closing the group opened at `open`, or -1. */
function groupEnd(source: string, open: number): number {
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i = escapeEnd(source, i);
    else if (c === '[') {
      i = classEnd(source, i);
      if (i === -1) return -1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/** Whether a part opens a capturing group (plain, `(?P<name>` or `(?<name>`). */
function capturesIn(source: string): boolean {
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i = escapeEnd(source, i);
    else if (c === '[') {
      i = classEnd(source, i);
      if (i === -1) return true;
    } else if (c === '(') {
      if (source[i + 1] !== '?') return true;
      if (source[i + 2] === 'P' || (source[i + 2] === '<' && /[A-Za-z_]/.test(source[i + 3] ?? '')))
        return true;
    }
  }
  return false;
}

/** The last index of the escape at `i` (`\Q...\E` quotes everything up to `\E`). */
function escapeEnd(source: string, i: number): number {
  if (source[i + 1] !== 'Q') return i + 1;
  const end = source.indexOf('\\E', i + 2);
  return end === -1 ? source.length : end + 1;
}

/** The index of the `]` closing the class opened at `i`, or -1 (`[]a]` and `[^]a]` hold a literal `]`). */
function classEnd(source: string, i: number): number {
  let j = i + 1;
  if (source[j] === '^') j++;
  if (source[j] === ']') j++;
  for (; j < source.length; j++) {
    const c = source[j];
    if (c === '\\') j++;
    else if (c === '[' && source[j + 1] === ':') {
      const end = source.indexOf(':]', j + 2);
      if (end === -1) return -1;
      j = end + 1;
    } else if (c === ']') return j;
  }
  return -1;
}
