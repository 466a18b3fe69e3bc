import { X509Certificate } from 'node:crypto';
import { Bundle, bundleFromJSON } from '@sigstore/bundle';
import { Descriptor, manifestLayers, Signers } from './cosign';
import { checkSignedStatement, StatementCheck } from './provenance';

/** Sigstore bundles as `cosign sign --new-bundle-format` (and `attest`) store them: manifests and their layer. */
export const SIGSTORE_BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** The predicate type of the statement a bundle signature of an image carries. */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
/** The manifest annotation cosign names a bundle's predicate type with, so attestations of other types stay unread. */
export const BUNDLE_PREDICATE_ANNOTATION = 'dev.sigstore.bundle.predicateType';
/**
 * cosign v2.6 lists bundle manifests in the referrers tag schema's index (`sha256-<hex>`) with the artifact type
 * of their config (`application/vnd.oci.empty.v1+json`) instead of their own: such entries are read too.
 */
export const COSIGN_BUNDLE_INDEX_ARTIFACT = 'application/vnd.oci.empty.v1+json';
/** A bundle holds a signature, a certificate chain and log entries: a few kilobytes. */
export const MAX_BUNDLE_BYTES = 256 * 1024;

function pem(der: Buffer): string | undefined {
  try {
    return new X509Certificate(der).toString();
  } catch {
    return undefined;
  }
}

/** The signing certificate a bundle carries (PEM), if it is keyless; a public-key bundle names only a hint. */
function certificateOf(bundle: Bundle): string | undefined {
  const material = bundle.verificationMaterial.content;
  if (material.$case === 'x509CertificateChain')
    return (
      material.x509CertificateChain.certificates[0] &&
      pem(material.x509CertificateChain.certificates[0].rawBytes)
    );
  if (material.$case === 'certificate') return pem(material.certificate.rawBytes);
  return undefined;
}

/**
 * Checks a Sigstore bundle (parsed and validated by @sigstore/bundle): its DSSE envelope signed by one of the
 * signers (its certificate, if keyless, under a trusted root), an in-toto statement of this digest. What it
 * states (a cosign signature, SLSA provenance) is for the caller to judge. Transparency-log entries and
 * timestamps in the bundle are not verified (docs/supply-chain.md).
 */
export function checkBundle(bytes: Buffer, signers: Signers, digest: string): StatementCheck {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(JSON.parse(bytes.toString('utf8')));
  } catch {
    return { ok: false, rank: 0, reason: 'not a Sigstore bundle' };
  }
  if (bundle.content.$case !== 'dsseEnvelope')
    return { ok: false, rank: 0, reason: 'a Sigstore bundle of a message signature, not of an image' };
  const envelope = bundle.content.dsseEnvelope;
  return checkSignedStatement(
    envelope.payloadType,
    envelope.payload,
    envelope.signatures.map((s) => s.sig),
    certificateOf(bundle),
    signers,
    digest,
  );
}

/**
 * The bundle layers of a bundle manifest whose statement is of `predicateType` (by cosign's annotation; a
 * manifest without it is read), at most 2.
 */
export function bundleLayers(manifest: Buffer, predicateType: string): Descriptor[] {
  let annotation: unknown;
  try {
    annotation = (JSON.parse(manifest.toString('utf8')) as { annotations?: Record<string, unknown> } | null)
      ?.annotations?.[BUNDLE_PREDICATE_ANNOTATION];
  } catch {
    return [];
  }
  if (annotation !== undefined && annotation !== predicateType) return [];
  return manifestLayers(manifest, 2).filter((l) => l.mediaType === SIGSTORE_BUNDLE_TYPE);
}
