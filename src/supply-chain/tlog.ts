import { createHash } from 'node:crypto';
import { Bundle, bundleFromJSON } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { Signer, toSignedEntity, TrustMaterial, VerificationError, Verifier } from '@sigstore/verify';
import { z } from 'zod';

/**
 * The annotation cosign puts a signature's transparency-log entry in (`cosign sign --tlog-upload`): Rekor's
 * signed entry timestamp (SET) and the entry it signs (body, integratedTime, logIndex, logID).
 */
export const TLOG_ANNOTATION = 'dev.sigstore.cosign/bundle';
/** An entry's body holds the signature and the certificate, base64 twice over: a few kilobytes. */
export const MAX_TLOG_ANNOTATION = 32 * 1024;

/** 9999-12-31T23:59:59Z, in seconds. */
const MAX_INTEGRATED_TIME = 253_402_300_799;

const CosignTlogEntrySchema = z.object({
  SignedEntryTimestamp: z.string().min(1).max(1024),
  Payload: z.object({
    body: z.string().min(1).max(MAX_TLOG_ANNOTATION),
    // Seconds until the end of year 9999: a registry's 1e20 would be a date JavaScript cannot hold or show.
    integratedTime: z.number().int().nonnegative().max(MAX_INTEGRATED_TIME),
    logIndex: z.number().int().nonnegative(),
    logID: z.string().regex(/^[0-9a-f]{64}$/),
  }),
});

/** What the certificate and signature verified with their transparency-log entry say. */
export type LoggedCheck =
  | { readonly ok: true; readonly signer: Signer; readonly integratedTime: Date }
  | { readonly ok: false; readonly reason: string };

/** The entry's kind and version, from its body (`hashedrekord` 0.0.1 for a cosign signature). */
function kindOf(body: string): { kind: string; version: string } | null {
  try {
    const parsed = JSON.parse(Buffer.from(body, 'base64').toString('utf8')) as {
      kind?: unknown;
      apiVersion?: unknown;
    } | null;
    if (typeof parsed?.kind !== 'string' || typeof parsed.apiVersion !== 'string') return null;
    return { kind: parsed.kind.slice(0, 64), version: parsed.apiVersion.slice(0, 64) };
  } catch {
    return null;
  }
}

/** What a log entry is of: a cosign simple-signing signature, or a DSSE envelope (`cosign attest`) with one signature. */
export type LoggedContent =
  | { readonly kind: 'message'; readonly payload: Buffer; readonly signature: Buffer }
  | {
      readonly kind: 'dsse';
      readonly payloadType: string;
      readonly payload: Buffer;
      readonly signature: Buffer;
    };

/** The signed content as a bundle holds it. */
function bundleContent(content: LoggedContent) {
  if (content.kind === 'dsse')
    return {
      dsseEnvelope: {
        payloadType: content.payloadType,
        payload: content.payload.toString('base64'),
        signatures: [{ sig: content.signature.toString('base64'), keyid: '' }],
      },
    };
  return {
    messageSignature: {
      messageDigest: {
        algorithm: 'SHA2_256',
        digest: createHash('sha256').update(content.payload).digest('base64'),
      },
      signature: content.signature.toString('base64'),
    },
  };
}

/**
 * The cosign signature or attestation and its certificate as a Sigstore bundle with its transparency-log entry,
 * so @sigstore/verify judges it as it judges any bundle; or why it cannot be.
 */
function asBundle(annotation: string, content: LoggedContent, leaf: X509Certificate): Bundle | string {
  if (annotation.length > MAX_TLOG_ANNOTATION)
    return `transparency-log entry longer than ${MAX_TLOG_ANNOTATION} characters`;
  let parsed: z.infer<typeof CosignTlogEntrySchema>;
  try {
    parsed = CosignTlogEntrySchema.parse(JSON.parse(annotation));
  } catch {
    return 'the transparency-log entry is not readable';
  }
  const { body, integratedTime, logIndex, logID } = parsed.Payload;
  const kindVersion = kindOf(body);
  if (kindVersion === null) return 'the transparency-log entry has no kind';
  try {
    return bundleFromJSON({
      mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
      verificationMaterial: {
        x509CertificateChain: { certificates: [{ rawBytes: leaf.root.toDER().toString('base64') }] },
        tlogEntries: [
          {
            logIndex: String(logIndex),
            logId: { keyId: Buffer.from(logID, 'hex').toString('base64') },
            kindVersion,
            integratedTime: String(integratedTime),
            inclusionPromise: { signedEntryTimestamp: parsed.SignedEntryTimestamp },
            canonicalizedBody: body,
          },
        ],
        timestampVerificationData: { rfc3161Timestamps: [] },
      },
      ...bundleContent(content),
    });
  } catch {
    return 'the transparency-log entry is not readable';
  }
}

/**
 * Verifies a signature with its transparency-log entry under a trusted root that lists transparency logs, as
 * Sigstore's public-good verification does (with @sigstore/verify): the entry's SET by a log the root lists,
 * the entry's body naming this signature and payload digest, the certificate's path to the root at the entry's
 * integrated time (not now: a certificate that expired since still proves who signed), and the signature by
 * the certificate's key. The identity and issuer are for the caller to match.
 */
export function verifyLogged(
  annotation: string,
  content: LoggedContent,
  leaf: X509Certificate,
  material: TrustMaterial,
  rootName: string,
): LoggedCheck {
  const bundle = asBundle(annotation, content, leaf);
  if (typeof bundle === 'string') return { ok: false, reason: bundle };
  const entry = bundle.verificationMaterial.tlogEntries[0];
  const logId = entry.logId.keyId;
  // Said apart from a SET that does not verify: the log is one the operator never trusted.
  if (!material.tlogs.some((t) => t.logID.equals(logId)))
    return {
      ok: false,
      reason: `transparency-log entry from a log not in trusted root ${rootName} (logID ${logId.toString('hex').slice(0, 16)}…)`,
    };
  const integratedTime = new Date(Number(entry.integratedTime) * 1000);
  try {
    const verifier = new Verifier(material, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 });
    const signer = verifier.verify(
      toSignedEntity(bundle, content.kind === 'message' ? content.payload : undefined),
    );
    return { ok: true, signer, integratedTime };
  } catch (err) {
    // A body the log signed yet lacking a field its kind has (no spec.signature) fails inside the verifier
    // with a TypeError: it is still the registry's entry that is wrong, so a refusal, not a crash.
    if (!(err instanceof VerificationError))
      return {
        ok: false,
        reason: `transparency-log entry refused (its body is not a ${entry.kindVersion?.kind ?? 'known'} entry: ${String((err as Error).message).slice(0, 100)})`,
      };
    return { ok: false, reason: refusal(err, rootName, integratedTime) };
  }
}

/** A verification error as a reason history shows. */
function refusal(err: VerificationError, rootName: string, at: Date): string {
  const cause = (err.cause as Error | undefined)?.message;
  switch (err.code) {
    case 'TLOG_INCLUSION_PROMISE_ERROR':
      return `transparency-log entry not signed by its log (its signed entry timestamp does not verify under trusted root ${rootName})`;
    case 'TLOG_BODY_ERROR':
      return `transparency-log entry of another signature (${err.message.slice(0, 100)})`;
    case 'CERTIFICATE_ERROR':
      return `certificate not valid under trusted root ${rootName} at its transparency-log time ${at.toISOString()}${cause ? ` (${cause.slice(0, 200)})` : ''}`;
    case 'SIGNATURE_ERROR':
      return 'not signed by the key of its certificate';
    default:
      return `transparency-log entry refused (${err.message.slice(0, 200)})`;
  }
}
