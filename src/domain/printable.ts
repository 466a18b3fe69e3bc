/**
 * Characters a terminal or a page acts on rather than shows: C0 and C1 controls (ESC starts the escape
 * sequences that move a terminal's cursor, retitle the window or hide text; CSI, U+009B, does so alone on
 * some terminals), DEL, and the bidirectional marks, overrides and isolates that reorder what follows them
 * (`gnp.\u202Eexe.evil` reads as `gnp.live.exe` on a terminal and in a browser alike).
 */
// eslint-disable-next-line no-control-regex -- matching controls is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Layout a page's text may keep: a browser lays tabs and line breaks out as spaces, and acts on nothing. */
const PAGE_LAYOUT = new Set(['\t', '\n', '\r']);

export const escapedCharacter = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * A string from the API (names, tags, error texts, refusals), safe to print on a terminal: every control,
 * line break and direction override shown as a visible `\uXXXX` instead of acted on.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escapedCharacter);
}

/** The same for a page's text (the console): tabs and line breaks stay, as a browser only lays them out. */
export function printableOnPage(text: string): string {
  return text.replace(UNPRINTABLE, (c) => (PAGE_LAYOUT.has(c) ? c : escapedCharacter(c)));
}

/**
 * Attributes a browser shows people or reads to them (tooltips, accessible names and descriptions, image
 * alternatives, hints): a direction override in them reorders a tooltip or what a screen reader says as it
 * would a text node. Form values, links and ids are not shown as text and keep their exact value.
 */
export const SHOWN_ATTRIBUTES: readonly string[] = [
  'title',
  'alt',
  'placeholder',
  'label',
  'aria-label',
  'aria-description',
  'aria-roledescription',
  'aria-placeholder',
  'aria-valuetext',
];

/** An element's props with every shown attribute (SHOWN_ATTRIBUTES) made printable, as its text is. */
export function printableShownAttributes<P extends Record<string, unknown>>(props: P): P {
  let copy: Record<string, unknown> | null = null;
  for (const name of SHOWN_ATTRIBUTES) {
    const value = props[name];
    if (typeof value !== 'string') continue;
    const shown = printableOnPage(value);
    if (shown === value) continue;
    copy ??= { ...props };
    copy[name] = shown;
  }
  return (copy ?? props) as P;
}
