import { createHash, KeyObject } from 'node:crypto';
import { X509Certificate } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, TrustMaterial } from '@sigstore/verify';
// @sigstore/verify checks a certificate's path to a trusted root only at the times its timestamps (Rekor, a
// TSA) prove; it exports no way to ask for another time. Without a transparency log the time is the
// verification's own, so its certificate check is called directly (the package version is pinned for this).
import { verifyCertificate } from '@sigstore/verify/dist/key';
import type { VersionRuleInput } from '../domain/rule-schema';
import { Matcher, matcher } from './match';
import { LoggedContent, verifyLogged } from './tlog';

/** The annotation cosign puts the signing certificate in (PEM) on a signature or attestation layer. */
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
/** A Fulcio leaf is under 2 KB of PEM; an annotation far longer is refused unparsed. */
export const MAX_CERTIFICATE_PEM = 16 * 1024;
/** Sigstore's public trusted root is about 10 KB; an operator's file far larger is refused at start. */
export const MAX_TRUSTED_ROOT_BYTES = 1024 * 1024;
/** Certificates per authority in a trusted root: Fulcio's chains are 2; path building stays small. */
const MAX_CHAIN_CERTIFICATES = 10;
const MAX_AUTHORITIES = 20;
/** Sigstore's public root lists 2 transparency logs; each entry is tried against the one that logged it. */
const MAX_TLOGS = 20;

export class TrustedRootError extends Error {
  readonly code = 'INVALID_TRUSTED_ROOT';
}

/** A trusted root the operator supplied, parsed once. */
export interface TrustedRootMaterial {
  readonly name: string;
  /** `sha256:` of the file: verdicts reached under one root are not those of another. */
  readonly fingerprint: string;
  readonly material: TrustMaterial;
}

/**
 * Parses a Sigstore trusted root (`trusted_root.json`, media type application/vnd.dev.sigstore.trustedroot+json)
 * with its certificate authorities and transparency logs (`tlogs`); timestamp authorities are not used.
 */
export function parseTrustedRoot(name: string, json: string): TrustedRootMaterial {
  if (Buffer.byteLength(json) > MAX_TRUSTED_ROOT_BYTES)
    throw new TrustedRootError(`larger than ${MAX_TRUSTED_ROOT_BYTES} bytes`);
  let root: TrustedRoot;
  try {
    root = TrustedRoot.fromJSON(JSON.parse(json));
  } catch (err) {
    throw new TrustedRootError(`not a Sigstore trusted root (${(err as Error).message.slice(0, 200)})`);
  }
  const authorities = root.certificateAuthorities;
  if (authorities.length === 0) throw new TrustedRootError('lists no certificateAuthorities');
  if (authorities.length > MAX_AUTHORITIES)
    throw new TrustedRootError(`lists more than ${MAX_AUTHORITIES} certificateAuthorities`);
  if (root.tlogs.length > MAX_TLOGS) throw new TrustedRootError(`lists more than ${MAX_TLOGS} tlogs`);
  for (const [i, ca] of authorities.entries()) {
    const count = ca.certChain?.certificates.length ?? 0;
    if (count === 0 || count > MAX_CHAIN_CERTIFICATES)
      throw new TrustedRootError(
        `certificateAuthorities.${i}.certChain: 1 to ${MAX_CHAIN_CERTIFICATES} certificates, not ${count}`,
      );
  }
  let material: TrustMaterial;
  try {
    material = toTrustMaterial(root);
  } catch (err) {
    throw new TrustedRootError(`its certificates do not parse (${(err as Error).message.slice(0, 200)})`);
  }
  return { name, fingerprint: `sha256:${createHash('sha256').update(json).digest('hex')}`, material };
}

/** A keyless signer a rule trusts: a trusted root, and the identity and issuer its certificates must name. */
export interface KeylessSigner {
  readonly root: TrustedRootMaterial;
  readonly identity: Matcher;
  readonly issuer: Matcher;
}

/** The PEM of a configured trusted root by its name (`trustedRoots`), parsed. */
export type RootLookup = (name: string) => TrustedRootMaterial | undefined;

/** Why a rule's keyless signer names no configured trusted root; the same text whoever asks. */
export function unknownRoot(name: string): string {
  return `no trusted root "${name}" is configured (trustedRoots.${name} in the worker configuration)`;
}

/** The rule's keyless signers, compiled; throws TrustedRootError for a root the worker lacks. */
export function compileKeyless(
  rule: Pick<VersionRuleInput, 'signatures'>,
  lookup: RootLookup,
): KeylessSigner[] {
  return (rule.signatures?.keyless ?? []).map((k) => {
    const root = lookup(k.trustedRoot);
    if (root === undefined) throw new TrustedRootError(unknownRoot(k.trustedRoot));
    return {
      root,
      identity: matcher(k.identity, 'identity regex'),
      issuer: matcher(k.issuer, 'issuer regex'),
    };
  });
}

/** Who signed, as a verified certificate says: what history and releases show. */
export interface CertificateSigner {
  readonly identity: string;
  readonly issuer: string;
  /** `sha256:` of the certificate's DER. */
  readonly fingerprint: string;
  readonly root: string;
  readonly key: KeyObject;
  /** When a transparency-log entry the root's logs signed says it signed; null when checked at verification. */
  readonly loggedAt: Date | null;
}

/** The certificate of a layer verified against the signers: the first whose root and identity it satisfies. */
export type CertificateCheck =
  { readonly ok: true; readonly signer: CertificateSigner } | { readonly ok: false; readonly reason: string };

const quoted = (value: string) => JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);

/** A signature and its transparency-log entry (cosign's bundle annotation), for roots that list logs. */
export interface LoggedSignature {
  readonly content: LoggedContent;
  /** The `dev.sigstore.cosign/bundle` annotation, if the signature carries one. */
  readonly entry: string | undefined;
}

/**
 * Verifies a signing certificate (PEM): it must chain to one of the signers' trusted roots and name a matching
 * identity and issuer. Under a root that lists transparency logs, a signature with a log entry is verified
 * with it and the certificate checked at the entry's integrated time; otherwise the certificate must be valid
 * at `at`. The signature itself is checked by the caller with the key.
 */
export function checkCertificate(
  pem: string,
  signers: readonly KeylessSigner[],
  at: Date,
  logged?: LoggedSignature,
): CertificateCheck {
  if (pem.length > MAX_CERTIFICATE_PEM)
    return { ok: false, reason: `certificate longer than ${MAX_CERTIFICATE_PEM} characters` };
  let leaf: X509Certificate;
  try {
    leaf = X509Certificate.parse(pem);
  } catch {
    return { ok: false, reason: 'the certificate is not readable' };
  }
  const reasons: string[] = [];
  for (const signer of signers) {
    let identity: string | undefined;
    let issuer: string | undefined;
    let key: KeyObject;
    let loggedAt: Date | null = null;
    const { material, name } = signer.root;
    const withLog = material.tlogs.length > 0 && logged?.entry !== undefined;
    try {
      const verified = withLog
        ? verifyLogged(logged.entry, logged.content, leaf, material, name)
        : { ok: true as const, signer: verifyCertificate(leaf, [at], material).signer };
      if (!verified.ok) {
        reasons.push(verified.reason);
        continue;
      }
      identity = verified.signer.identity?.subjectAlternativeName;
      issuer = verified.signer.identity?.extensions?.issuer;
      key = verified.signer.key;
      if ('integratedTime' in verified) loggedAt = verified.integratedTime;
    } catch (err) {
      const cause = (err as { cause?: Error }).cause?.message;
      // Under a root with logs, an entry would have shown the certificate valid when it signed.
      const unlogged = material.tlogs.length > 0 ? '; no transparency-log entry shows when it signed' : '';
      reasons.push(
        `certificate not valid under trusted root ${name}${cause ? ` (${cause}${unlogged})` : ''}`.slice(
          0,
          300,
        ),
      );
      continue;
    }
    if (identity === undefined || !signer.identity.test(identity)) {
      reasons.push(`certificate for identity ${quoted(identity ?? '(none)')}, not ${signer.identity.text}`);
      continue;
    }
    if (issuer === undefined || !signer.issuer.test(issuer)) {
      reasons.push(`certificate from issuer ${quoted(issuer ?? '(none)')}, not ${signer.issuer.text}`);
      continue;
    }
    const fingerprint = `sha256:${createHash('sha256').update(leaf.root.toDER()).digest('hex')}`;
    return { ok: true, signer: { identity, issuer, fingerprint, root: name, key, loggedAt } };
  }
  return { ok: false, reason: reasons[0] ?? 'no keyless signer' };
}
