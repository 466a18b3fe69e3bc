import { createHash } from 'node:crypto';
import type { VersionRuleInput } from '../domain/rule-schema';
import { KeyLookup, resolveKey, TrustedKey } from './keys';
import { compileProvenance, ProvenanceGate } from './provenance';

/** What a rule asks of an image beyond its tag, compiled once per poll (keys parsed). */
export interface ImageGate {
  readonly keys: readonly TrustedKey[];
  readonly platforms: readonly string[];
  /** The SLSA provenance the image must carry, signed by one of `keys`; null when the rule asks for none. */
  readonly provenance: ProvenanceGate | null;
  /** Stable over key names and order: a verdict is remembered per digest and fingerprint. */
  readonly fingerprint: string;
}

/** What checking one digest against a gate found. */
export interface Verdict {
  readonly passed: boolean;
  /** Why it failed, or what passed (`signed by key release-2026`). */
  readonly reason: string;
  /** The key whose signature passed, by the rule's name and its SPKI fingerprint. */
  readonly key: { readonly name: string; readonly fingerprint: string } | null;
  /** The digest of the provenance attestation (its DSSE envelope) that passed, where the rule asks for one. */
  readonly attestation?: string | null;
}

/** No configured keys: rules naming one fail to compile, as on a worker without `signatureKeys`. */
const NO_KEYS: KeyLookup = () => undefined;

/**
 * The rule's gate, or null when it asks for no signature and no platform. Keys named by `{ secret }` are
 * resolved through `lookup` (the worker's `signatureKeys`), so their PEM never travels with the rule.
 */
export function compileGate(
  rule: Pick<VersionRuleInput, 'signatures' | 'platforms' | 'provenance'>,
  lookup: KeyLookup = NO_KEYS,
): ImageGate | null {
  if (rule.signatures === undefined && rule.platforms === undefined) return null;
  const keys = Object.entries(rule.signatures?.keys ?? {}).map(([name, key]) =>
    resolveKey(name, key, lookup),
  );
  const platforms = [...(rule.platforms ?? [])];
  const provenance = compileProvenance(rule);
  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify({
        keys: rule.signatures ? keys.map((k) => k.fingerprint).sort() : null,
        platforms: [...platforms].sort(),
        // Only where asked, so the verdicts of rules without provenance keep their fingerprints.
        ...(rule.provenance ? { provenance: rule.provenance } : {}),
      }),
    )
    .digest('hex');
  return { keys, platforms, provenance, fingerprint: `sha256:${fingerprint}` };
}

/** `key \`a\` or \`b\``, as reasons name a rule's keys. */
export function keyNames(gate: ImageGate): string {
  return gate.keys.map((k) => `\`${k.name}\``).join(' or ');
}
