/**
 * Characters a terminal acts on rather than shows: C0 and C1 controls (ESC starts the escape sequences
 * that move the cursor, retitle the window or hide text; CSI, U+009B, does so alone on some terminals),
 * DEL, and the bidirectional overrides and isolates that reorder what follows them on the line.
 */
// eslint-disable-next-line no-control-regex -- matching controls is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const UNPRINTABLE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escaped = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * A string from the API (names, tags, error texts, refusals), safe to print on a terminal: every control,
 * line break and direction override shown as a visible `\uXXXX` instead of acted on.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escaped);
}

/**
 * JSON for `-o json`, with the characters JSON.stringify leaves raw (C1 controls, direction overrides,
 * U+2028/9) written as \u escapes: the same document, but inert on a terminal.
 */
export function printableJson(value: unknown): string {
  // JSON.stringify escapes C0 controls in strings itself (the line breaks left are its layout); what else
  // UNPRINTABLE matches can only sit inside strings, where \uXXXX is valid.
  return JSON.stringify(value, null, 2).replace(UNPRINTABLE_IN_JSON, escaped);
}
