import {
  compareDigits,
  compareVersions,
  compareVersionTags,
  MetadataOrder,
  parseVersion,
  Precedence,
  Version,
} from './version';

/**
 * How a rule orders the values it accepts: `semver` (Octopus precedence), `numerical` (integers or
 * decimals, e.g. build numbers and timestamps) or `alphabetical` (plain text, e.g. RFC 3339 dates).
 */
export type OrderName = 'semver' | 'numerical' | 'alphabetical';
export const ORDER_NAMES: readonly OrderName[] = ['semver', 'numerical', 'alphabetical'];

/** A value a rule can order: the tag or the part a filter extracted from it. */
export interface OrderedValue {
  readonly tag: string;
  readonly value: string;
  readonly version: Version | null;
  readonly number: { readonly sign: 1 | -1; readonly int: string; readonly frac: string } | null;
}

const NUMBER = /^([+-]?)(\d+)(?:\.(\d+))?$/;

/** Reads the value for an order; null when the order cannot rank it ("not a version"). */
export function toOrderedValue(order: OrderName, tag: string, value: string): OrderedValue | null {
  switch (order) {
    case 'semver': {
      const version = parseVersion(value);
      return version ? { tag, value, version, number: null } : null;
    }
    case 'numerical': {
      const m = NUMBER.exec(value);
      if (!m) return null;
      const int = m[2].replace(/^0+(?=\d)/, '');
      const frac = (m[3] ?? '').replace(/0+$/, '');
      const zero = /^0+$/.test(int) && frac === '';
      return { tag, value, version: null, number: { sign: m[1] === '-' && !zero ? -1 : 1, int, frac } };
    }
    case 'alphabetical':
      return { tag, value, version: null, number: null };
  }
}

function compareFraction(a: string, b: string): number {
  const len = Math.max(a.length, b.length);
  const pa = a.padEnd(len, '0');
  const pb = b.padEnd(len, '0');
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

function compareNumbers(
  a: NonNullable<OrderedValue['number']>,
  b: NonNullable<OrderedValue['number']>,
): number {
  if (a.sign !== b.sign) return a.sign;
  const magnitude = compareDigits(a.int, b.int) || compareFraction(a.frac, b.frac);
  return a.sign * magnitude;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Total order for an order name: ties on the ranked value are broken by build metadata, then the tag text. */
export function compareOrdered(
  order: OrderName,
  a: OrderedValue,
  b: OrderedValue,
  precedence: Precedence = 'docker',
  metadata: MetadataOrder = 'numeric',
): number {
  switch (order) {
    case 'semver':
      return (
        compareVersionTags(a.version as Version, b.version as Version, precedence, metadata) ||
        compareText(a.tag, b.tag)
      );
    case 'numerical':
      return compareNumbers(a.number!, b.number!) || compareText(a.tag, b.tag);
    case 'alphabetical':
      return compareText(a.value, b.value) || compareText(a.tag, b.tag);
  }
}

/** Compares only the ranked value (no tie-break): "later" means strictly greater here. */
export function compareRank(
  order: OrderName,
  a: OrderedValue,
  b: OrderedValue,
  precedence: Precedence = 'docker',
): number {
  switch (order) {
    case 'semver':
      return compareVersions(a.version as Version, b.version as Version, precedence);
    case 'numerical':
      return compareNumbers(a.number!, b.number!);
    case 'alphabetical':
      return compareText(a.value, b.value);
  }
}
