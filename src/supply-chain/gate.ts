import { createHash } from 'node:crypto';
import type { VersionRuleInput } from '../domain/rule-schema';
import type { Signers } from './cosign';
import { KeyLookup, resolveKey, TrustedKey } from './keys';
import { compileKeyless, KeylessSigner, RootLookup } from './keyless';
import { compileProvenance, ProvenanceGate } from './provenance';

/** What a rule asks of an image beyond its tag, compiled once per poll (keys parsed). */
export interface ImageGate {
  readonly keys: readonly TrustedKey[];
  /** Keyless signers: certificates under the worker's trusted roots, with the identity and issuer asked. */
  readonly keyless: readonly KeylessSigner[];
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

/** What the worker configures for rules to name: signature keys and trusted roots. */
export interface GateLookups {
  readonly key: KeyLookup;
  readonly root: RootLookup;
}

/** Nothing configured: rules naming a key or a root fail to compile, as on a worker without them. */
const NOTHING: GateLookups = { key: () => undefined, root: () => undefined };

/**
 * The rule's gate, or null when it asks for no signature and no platform. Keys named by `{ secret }` are
 * resolved through `lookup` (the worker's `signatureKeys`, and keyless signers' roots through its
 * `trustedRoots`), so their PEM never travels with the rule.
 */
export function compileGate(
  rule: Pick<VersionRuleInput, 'signatures' | 'platforms' | 'provenance'>,
  lookup: GateLookups = NOTHING,
): ImageGate | null {
  if (rule.signatures === undefined && rule.platforms === undefined) return null;
  const keys = Object.entries(rule.signatures?.keys ?? {}).map(([name, key]) =>
    resolveKey(name, key, lookup.key),
  );
  const keyless = compileKeyless(rule, lookup.root);
  const platforms = [...(rule.platforms ?? [])];
  const provenance = compileProvenance(rule);
  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify({
        keys: rule.signatures ? keys.map((k) => k.fingerprint).sort() : null,
        platforms: [...platforms].sort(),
        // Only where asked, so the verdicts of rules without keyless signers keep their fingerprints.
        ...(rule.signatures?.keyless
          ? {
              keyless: rule.signatures.keyless.map((k, i) => ({ ...k, root: keyless[i].root.fingerprint })),
            }
          : {}),
        // Only where asked, so the verdicts of rules without provenance keep their fingerprints.
        ...(rule.provenance ? { provenance: rule.provenance } : {}),
      }),
    )
    .digest('hex');
  return { keys, keyless, platforms, provenance, fingerprint: `sha256:${fingerprint}` };
}

/** `key \`a\` or \`b\``, as reasons name a rule's keys (and `identity \`…\`` its keyless signers). */
export function keyNames(gate: ImageGate): string {
  const keys = gate.keys.length > 0 ? [`key ${gate.keys.map((k) => `\`${k.name}\``).join(' or ')}`] : [];
  const identities = gate.keyless.map((k) => `identity \`${k.identity.text}\``);
  return [...keys, ...identities].join(' or ');
}

/** Whom the gate trusts to sign, certificates checked at `at`. */
export function signersOf(gate: ImageGate, at: Date): Signers {
  return { keys: gate.keys, keyless: gate.keyless, at };
}
