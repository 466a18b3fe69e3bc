import type { NextFunction, Request, Response } from 'express';
import { sendProblem } from './problem';

/**
 * How deeply a JSON body may nest arrays and objects. A project nests six levels; a body of 100,000 `[`
 * would overflow the stack in validation (a 500), so the depth is checked on the raw bytes first.
 */
export const MAX_JSON_DEPTH = 64;

/** An error body-parser passes on when a body nests deeper than MAX_JSON_DEPTH. */
export class JsonTooDeepError extends Error {
  readonly status = 400;
  readonly type = 'entity.too.deep';
  constructor() {
    super(`the body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  }
}

/** Whether JSON text nests arrays and objects deeper than `max` (brackets in strings do not count); one pass. */
export function jsonDeeperThan(text: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** A JSON body in another charset than UTF-8, which body-parser would decode (RFC 8259 asks for UTF-8). */
export class JsonCharsetError extends Error {
  readonly status = 415;
  readonly type = 'charset.unsupported';
  constructor(charset: string) {
    super(`the body's charset ${charset.slice(0, 40)} is not supported: send JSON as UTF-8`);
  }
}

/**
 * body-parser's `verify` option: refuses a body that nests too deeply before it is parsed. The scan reads
 * UTF-8 bytes, so any other charset is refused first: in UTF-16 a backslash's next byte is the zero half of
 * its own character, so `"\""` left the scan inside a string and 100,000 `[` after it overflowed the stack
 * (a 500), as before the depth check.
 */
export function refuseDeepJson(_req: unknown, _res: unknown, body: Buffer, encoding?: string): void {
  if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) throw new JsonCharsetError(encoding);
  if (jsonDeeperThan(body, MAX_JSON_DEPTH)) throw new JsonTooDeepError();
}

/** Half a surrogate pair, without its other half (no `u` flag: the pattern reads UTF-16 code units). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why PostgreSQL cannot store the string, or undefined when it can. */
function unstorable(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain NUL (\\u0000)';
  // JSON may escape half a surrogate pair ("\ud800"): jsonb refuses it (a 500) and text turns it into U+FFFD.
  if (LONE_SURROGATE.test(text)) return 'must not contain a lone surrogate (half a \\uD800-\\uDFFF pair)';
  return undefined;
}

/**
 * The dotted path of the first string or key PostgreSQL cannot store, and why; undefined when there is
 * none. Values nest MAX_JSON_DEPTH at most.
 */
export function unstorableField(value: unknown, at: string): { field: string; message: string } | undefined {
  if (typeof value === 'string') {
    const message = unstorable(value);
    return message === undefined ? undefined : { field: at, message };
  }
  if (!value || typeof value !== 'object') return undefined;
  for (const [key, child] of Object.entries(value)) {
    const field = at === '' ? key : `${at}.${key}`;
    const message = unstorable(key);
    if (message !== undefined) return { field, message };
    const found = unstorableField(child, field);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Refuses NUL or a lone surrogate in a parsed body or the query with a 400 naming the field: PostgreSQL
 * cannot store either (a 500, "invalid byte sequence" or "invalid input syntax for type json", before),
 * and no name, tag or URL of ours needs them.
 */
export function refuseUnstorable(req: Request, res: Response, next: NextFunction): void {
  const found = unstorableField(req.body, '') ?? unstorableField(req.query, 'query');
  if (found === undefined) return next();
  const name = found.field === '' ? '(body)' : found.field;
  sendProblem(res, 400, 'Invalid request', `${name}: ${found.message}`, [
    { field: name, message: found.message },
  ]);
}
