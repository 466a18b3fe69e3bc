import { escapedCharacter } from '../domain/printable';

export { printable } from '../domain/printable';

const UNPRINTABLE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON for `-o json`, with the characters JSON.stringify leaves raw (C1 controls, direction overrides,
 * U+2028/9) written as \u escapes: the same document, but inert on a terminal.
 */
export function printableJson(value: unknown): string {
  // JSON.stringify escapes C0 controls in strings itself (the line breaks left are its layout); what else
  // UNPRINTABLE matches can only sit inside strings, where \uXXXX is valid.
  return JSON.stringify(value, null, 2).replace(UNPRINTABLE_IN_JSON, escapedCharacter);
}
