import { createHash, createPublicKey, KeyObject } from 'node:crypto';

/** A PEM public key is a few hundred bytes (RSA 4096: about 800); anything far larger is not one. */
export const MAX_PEM_LENGTH = 8192;

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
