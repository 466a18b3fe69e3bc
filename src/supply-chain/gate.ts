import { createHash } from 'node:crypto';
import type { VersionRuleInput } from '../domain/rule-schema';
import { parsePublicKey, TrustedKey } from './keys';

/** What a rule asks of an image beyond its tag, compiled once per poll (keys parsed). */
export interface ImageGate {
  readonly keys: readonly TrustedKey[];
  readonly platforms: readonly string[];
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
}

/** The rule's gate, or null when it asks for no signature and no platform. */
export function compileGate(rule: Pick<VersionRuleInput, 'signatures' | 'platforms'>): ImageGate | null {
  if (rule.signatures === undefined && rule.platforms === undefined) return null;
  const keys = Object.entries(rule.signatures?.keys ?? {}).map(([name, pem]) => parsePublicKey(name, pem));
  const platforms = [...(rule.platforms ?? [])];
  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify({
        keys: rule.signatures ? keys.map((k) => k.fingerprint).sort() : null,
        platforms: [...platforms].sort(),
      }),
    )
    .digest('hex');
  return { keys, platforms, fingerprint: `sha256:${fingerprint}` };
}

/** `key \`a\` or \`b\``, as reasons name a rule's keys. */
export function keyNames(gate: ImageGate): string {
  return gate.keys.map((k) => `\`${k.name}\``).join(' or ');
}
