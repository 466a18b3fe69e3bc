import { createHash, createPublicKey, KeyObject } from 'node:crypto';
import { MAX_PEM_LENGTH, RuleKey } from '../domain/rule-schema';
import type { ProjectSpec } from '../domain/project';
import { unknownRoot } from './keyless';

/** A signing key a rule trusts, parsed once. */
export interface TrustedKey {
  /** The name the rule gives it (`release-2026`): what history and releases show. */
  readonly name: string;
  /** `sha256:` of the key's SubjectPublicKeyInfo, the same whoever writes the PEM. */
  readonly fingerprint: string;
  readonly key: KeyObject;
  /** The digest cosign signs with for this key type: SHA-256, or none for Ed25519 (pure EdDSA). */
  readonly hash: 'sha256' | null;
}

export class KeyError extends Error {
  readonly code = 'INVALID_KEY';
}

/** Parses a PEM public key of a type cosign signs with: ECDSA P-256, Ed25519 or RSA (2048 bits or more). */
export function parsePublicKey(name: string, pem: string): TrustedKey {
  if (pem.length > MAX_PEM_LENGTH)
    throw new KeyError(`key ${name}: longer than ${MAX_PEM_LENGTH} characters`);
  if (!/^\s*-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----\s*$/.test(pem))
    throw new KeyError(
      `key ${name}: not a PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)`,
    );
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new KeyError(`key ${name}: the PEM does not hold a readable public key`);
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  let hash: TrustedKey['hash'] = 'sha256';
  if (type === 'ed25519') hash = null;
  else if (type === 'ec') {
    if (details.namedCurve !== 'prime256v1')
      throw new KeyError(
        `key ${name}: ECDSA keys must be on P-256, not ${details.namedCurve ?? 'an unknown curve'}`,
      );
  } else if (type === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048)
      throw new KeyError(`key ${name}: RSA keys need 2048 bits or more`);
  } else
    throw new KeyError(`key ${name}: ${type ?? 'this'} keys are not supported (ECDSA P-256, Ed25519, RSA)`);
  const spki = key.export({ type: 'spki', format: 'der' });
  return { name, fingerprint: `sha256:${createHash('sha256').update(spki).digest('hex')}`, key, hash };
}

/** The PEM of a configured signature key by its name (`signatureKeys` in the worker's configuration). */
export type KeyLookup = (secret: string) => string | undefined;

/** Why a rule's key reference names no configured key; the same text whoever asks. */
function unknownKey(secret: string): string {
  return `no signature key "${secret}" is configured (signatureKeys.${secret} in the worker configuration)`;
}

/** A rule's key, parsed: its PEM, or the configured key it names (resolved here, in the worker, never in history). */
export function resolveKey(name: string, key: RuleKey, lookup: KeyLookup): TrustedKey {
  if (typeof key === 'string') return parsePublicKey(name, key);
  const pem = lookup(key.secret);
  if (pem === undefined) throw new KeyError(`key ${name}: ${unknownKey(key.secret)}`);
  return parsePublicKey(name, pem);
}

/** What the worker configures for rules to name, by name; absent: not known here (checked by the worker). */
export interface ConfiguredNames {
  readonly keys?: ReadonlySet<string>;
  readonly roots?: ReadonlySet<string>;
}

/**
 * The signature keys of a project's rules that do not parse as keys cosign signs with, or name no configured
 * key or trusted root (where those are known), each named by its field
 * (`channels.0.rules.1.signatures.keys.release-2026`): the schema checks only their PEM shape.
 */
export function keyErrors(
  spec: Pick<ProjectSpec, 'channels'>,
  configured: ConfiguredNames = {},
): { field: string; message: string }[] {
  const errors: { field: string; message: string }[] = [];
  spec.channels.forEach((channel, c) =>
    channel.rules.forEach((rule, r) => {
      const at = `channels.${c}.rules.${r}.signatures`;
      for (const [name, key] of Object.entries(rule.signatures?.keys ?? {})) {
        const field = `${at}.keys.${name}`;
        if (typeof key !== 'string') {
          if (configured.keys && !configured.keys.has(key.secret))
            errors.push({ field: `${field}.secret`, message: unknownKey(key.secret) });
          continue;
        }
        try {
          parsePublicKey(name, key);
        } catch (err) {
          errors.push({ field, message: (err as Error).message.replace(`key ${name}: `, '') });
        }
      }
      (rule.signatures?.keyless ?? []).forEach((signer, i) => {
        if (configured.roots && !configured.roots.has(signer.trustedRoot))
          errors.push({ field: `${at}.keyless.${i}.trustedRoot`, message: unknownRoot(signer.trustedRoot) });
      });
    }),
  );
  return errors;
}
