/**
 * Byte budgets that keep every workflow's input, state and continue-as-new payload far below Temporal's
 * 2 MiB payload limit, whatever a user sends. Pure: runs inside the workflow sandbox.
 */

/** A project's configuration, serialized. Generous: a 50-package, 20-channel project is about 15 KiB. */
export const MAX_PROJECT_SPEC_BYTES = 64 * 1024;
/** The releases a project workflow carries across continue-as-new (the newest stay). */
export const MAX_LEDGER_RELEASE_BYTES = 768 * 1024;
/** Idempotency keys a project workflow remembers across continue-as-new. */
export const MAX_LEDGER_KEY_BYTES = 128 * 1024;
/** A trigger's evaluation history (the newest stay). */
export const MAX_TRIGGER_HISTORY_BYTES = 256 * 1024;
/** Free text a workflow keeps (reasons, error messages). */
export const MAX_TEXT_LENGTH = 1000;

/** UTF-8 length of a string, without TextEncoder (not every sandbox has it). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4; // a surrogate pair is one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Serialized size of a JSON value, in bytes. */
export function jsonBytes(value: unknown): number {
  return utf8Length(JSON.stringify(value) ?? '');
}

/** Cuts free text to the stored length, saying so. */
export function clip(text: string, max = MAX_TEXT_LENGTH): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * How many items from the end of a list fit the budget (at least one, so the newest always stays).
 * The newest are last, as in a ledger or a history.
 */
export function newestWithin<T>(items: readonly T[], budget: number): number {
  let total = 0;
  for (let i = items.length - 1; i >= 0; i--) {
    total += jsonBytes(items[i]) + 1;
    if (total > budget) return Math.max(1, items.length - 1 - i);
  }
  return items.length;
}
