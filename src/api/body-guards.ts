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

/** The dotted path of the first string or key holding NUL, or undefined; values nest MAX_JSON_DEPTH at most. */
export function fieldWithNul(value: unknown, at: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? at : undefined;
  if (!value || typeof value !== 'object') return undefined;
  for (const [key, child] of Object.entries(value)) {
    const field = at === '' ? key : `${at}.${key}`;
    if (key.includes('\u0000')) return field;
    const found = fieldWithNul(child, field);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Refuses NUL in a parsed body or the query with a 400 naming the field: PostgreSQL's text cannot hold it
 * (a 500, "invalid byte sequence", before), and no name, tag or URL of ours needs it.
 */
export function refuseNul(req: Request, res: Response, next: NextFunction): void {
  const field = fieldWithNul(req.body, '') ?? fieldWithNul(req.query, 'query');
  if (field === undefined) return next();
  const name = field === '' ? '(body)' : field;
  sendProblem(res, 400, 'Invalid request', `${name}: must not contain NUL (\\u0000)`, [
    { field: name, message: 'must not contain NUL (\\u0000)' },
  ]);
}
