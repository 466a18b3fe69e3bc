import { KeyObject, verify } from 'node:crypto';
import { z } from 'zod';
import type { TrustedKey } from './keys';
import {
  CERTIFICATE_ANNOTATION,
  checkCertificate,
  KeylessSigner,
  LoggedSignature,
  MAX_CERTIFICATE_PEM,
} from './keyless';
import { MAX_TLOG_ANNOTATION, TLOG_ANNOTATION } from './tlog';

/** cosign's simple-signing payload layer, and the annotation that holds its signature (base64). */
export const SIMPLE_SIGNING_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** The artifact type cosign gives signature manifests it stores as OCI 1.1 referrers. */
export const COSIGN_SIGNATURE_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
/** A simple-signing payload is a few hundred bytes; a larger one is refused unread. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Signatures read per manifest: each costs a blob read and a verification per key. */
export const MAX_SIGNATURE_LAYERS = 20;
/** An RSA-4096 signature is 512 bytes (684 in base64): the annotation is capped well above any real one. */
const MAX_SIGNATURE_BASE64 = 4096;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const DescriptorSchema = z.object({
  mediaType: z.string().max(256).optional(),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
  artifactType: z.string().max(256).optional(),
});
export type Descriptor = z.infer<typeof DescriptorSchema>;

const SignatureManifestSchema = z.object({ layers: z.array(z.unknown()).optional() });
const ReferrersSchema = z.object({ manifests: z.array(z.unknown()).optional() });

/** The valid descriptors of a list, at most `limit`; a malformed entry is skipped, not fatal. */
function descriptors(items: readonly unknown[] | undefined, limit: number): Descriptor[] {
  const out: Descriptor[] = [];
  for (const item of (items ?? []).slice(0, limit)) {
    const parsed = DescriptorSchema.safeParse(item);
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}

function json(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
}

/** The valid layer descriptors of a cosign manifest (`.sig`, `.att` or a referrer), at most `limit`. */
export function manifestLayers(manifest: Buffer, limit: number): Descriptor[] {
  const parsed = SignatureManifestSchema.safeParse(json(manifest));
  if (!parsed.success) return [];
  return descriptors(parsed.data.layers, limit);
}

/** The signature layers of a cosign signature manifest (`sha256-<hex>.sig` or a referrer), at most MAX_SIGNATURE_LAYERS. */
export function signatureLayers(manifest: Buffer): Descriptor[] {
  return manifestLayers(manifest, MAX_SIGNATURE_LAYERS).filter((l) => l.mediaType === SIMPLE_SIGNING_TYPE);
}

/** The manifests of one artifact type a referrers index lists, at most `limit` of however many it holds. */
export function referrersOfType(index: Buffer, artifactType: string, limit: number): Descriptor[] {
  const parsed = ReferrersSchema.safeParse(json(index));
  if (!parsed.success) return [];
  const all = parsed.data.manifests ?? [];
  const out: Descriptor[] = [];
  // Read past entries of other types (SBOMs, attestations) without parsing all of a 10,000-entry index.
  for (const item of all) {
    if (out.length >= limit) break;
    const parsed = DescriptorSchema.safeParse(item);
    if (parsed.success && parsed.data.artifactType === artifactType) out.push(parsed.data);
  }
  return out;
}

/** The cosign signature manifests a referrers index lists, at most `limit` of however many it holds. */
export function signatureReferrers(index: Buffer, limit: number): Descriptor[] {
  return referrersOfType(index, COSIGN_SIGNATURE_ARTIFACT, limit);
}

const PayloadSchema = z.object({
  critical: z.object({
    type: z.string(),
    image: z.object({ 'docker-manifest-digest': z.string() }),
  }),
});

/** Whom a rule trusts to sign: keys, keyless signers (certificates under trusted roots), and when it verifies. */
export interface Signers {
  readonly keys: readonly TrustedKey[];
  readonly keyless: readonly KeylessSigner[];
  /** The time certificates must be valid at when no transparency-log entry says when they signed. */
  readonly at: Date;
}

/** Who a verified signature is by, as history and releases name it. */
export interface SignedBy {
  /** The rule's key name, or the certificate's identity. */
  readonly name: string;
  /** The key's SPKI fingerprint, or the certificate's. */
  readonly fingerprint: string;
  /** `key release-2026`, `identity https://… (issuer …, trusted root corp)`. */
  readonly text: string;
}

/** The digest cosign signs with for a key: SHA-256, SHA-384 on P-384, none for Ed25519 (pure EdDSA). */
function hashFor(key: KeyObject): string | null {
  if (key.asymmetricKeyType === 'ed25519') return null;
  return key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256';
}

/**
 * Who signed `data` with `signature`: one of the keys, or (where the layer carries a certificate and the rule
 * names keyless signers) the certificate's key after its chain, validity, identity and issuer are checked,
 * at the time its transparency-log entry (`logged`) proves where the trusted root lists logs.
 * A string says why neither: what a refusal shows.
 */
export function signerOf(
  data: Buffer,
  signature: Buffer,
  certificate: string | undefined,
  signers: Signers,
  logged?: LoggedSignature,
): SignedBy | string {
  const verifies = (key: KeyObject, hash: string | null) => {
    try {
      return verify(hash, data, key, signature);
    } catch {
      // A signature of the wrong shape for this key type (an RSA signature against an EC key).
      return false;
    }
  };
  const key = signers.keys.find((k) => verifies(k.key, k.hash));
  if (key) return { name: key.name, fingerprint: key.fingerprint, text: `key ${key.name}` };
  if (certificate === undefined || signers.keyless.length === 0) return 'not by a trusted key';
  const check = checkCertificate(certificate, signers.keyless, signers.at, logged);
  if (!check.ok) return check.reason;
  const { identity, issuer, fingerprint, root, loggedAt } = check.signer;
  if (!verifies(check.signer.key, hashFor(check.signer.key)))
    return `not signed by the key of its certificate (identity ${identity})`;
  const when = loggedAt ? `, in its transparency log at ${loggedAt.toISOString()}` : '';
  return {
    name: identity,
    fingerprint,
    text: `identity ${identity} (issuer ${issuer}, trusted root ${root}${when})`,
  };
}

/** What one signature says of an image. */
export type SignatureCheck =
  | { readonly ok: true; readonly by: SignedBy }
  | {
      readonly ok: false;
      /** Worst first: a valid signature over another image outranks a broken one. */
      readonly rank: number;
      readonly reason: string;
    };

/** Why a layer is refused before its payload is read (oversized, a signature that is not base64), or null. */
export function layerRefusal(layer: Descriptor): string | null {
  if (layer.size > MAX_PAYLOAD_BYTES)
    return `signature payload of ${layer.size} bytes, more than ${MAX_PAYLOAD_BYTES}`;
  const signature = layer.annotations?.[SIGNATURE_ANNOTATION];
  if (signature === undefined) return 'signature layer without a signature annotation';
  if (signature.length > MAX_SIGNATURE_BASE64 || !BASE64.test(signature))
    return 'signature annotation is not base64';
  const certificate = layer.annotations?.[CERTIFICATE_ANNOTATION];
  if (certificate !== undefined && certificate.length > MAX_CERTIFICATE_PEM)
    return `certificate longer than ${MAX_CERTIFICATE_PEM} characters`;
  const entry = layer.annotations?.[TLOG_ANNOTATION];
  if (entry !== undefined && entry.length > MAX_TLOG_ANNOTATION)
    return `transparency-log entry longer than ${MAX_TLOG_ANNOTATION} characters`;
  return null;
}

/**
 * Checks a cosign signature: over the payload's exact bytes by one of the keys, and a payload that is a
 * cosign container image signature of exactly this digest (a signature copied from another image fails).
 */
export function checkSignature(
  payload: Buffer,
  signatureBase64: string,
  signers: Signers,
  digest: string,
  certificate?: string,
  tlogEntry?: string,
): SignatureCheck {
  const signature = Buffer.from(signatureBase64, 'base64');
  const by = signerOf(payload, signature, certificate, signers, {
    content: { kind: 'message', payload, signature },
    entry: tlogEntry,
  });
  if (typeof by === 'string') return { ok: false, rank: 1, reason: by };
  const parsed = PayloadSchema.safeParse(json(payload));
  if (!parsed.success)
    return { ok: false, rank: 2, reason: 'the signed payload is not a cosign simple-signing payload' };
  if (parsed.data.critical.type !== 'cosign container image signature')
    return {
      ok: false,
      rank: 2,
      reason: `the signed payload is a ${JSON.stringify(parsed.data.critical.type.slice(0, 64))}, not a cosign container image signature`,
    };
  if (parsed.data.critical.image['docker-manifest-digest'] !== digest)
    return { ok: false, rank: 3, reason: 'signature does not match the image digest' };
  return { ok: true, by };
}
