import { dsse } from '@sigstore/core';
import { z } from 'zod';
import type { VersionRuleInput } from '../domain/rule-schema';
import { Descriptor, SignedBy, signerOf, Signers } from './cosign';
import { CERTIFICATE_ANNOTATION, MAX_CERTIFICATE_PEM } from './keyless';
import { Matcher, matcher } from './match';
import { MAX_TLOG_ANNOTATION, TLOG_ANNOTATION } from './tlog';

/** The layer type of a DSSE envelope in cosign's `.att` manifests. */
export const DSSE_ENVELOPE_TYPE = 'application/vnd.dsse.envelope.v1+json';
/** The artifact type cosign gives attestation manifests it stores as OCI 1.1 referrers. */
export const COSIGN_ATTESTATION_ARTIFACT = 'application/vnd.dev.cosign.artifact.att.v1+json';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
/** cosign v2 still writes Statement v0.1; both carry the same fields. */
const STATEMENT_TYPES = ['https://in-toto.io/Statement/v0.1', 'https://in-toto.io/Statement/v1'];
/** The annotation cosign puts on each attestation layer, so other predicate types are passed by unread. */
const PREDICATE_ANNOTATION = 'predicateType';
/**
 * A SLSA provenance envelope is a few kilobytes (GitHub's about 10 KB, base64 inside JSON); one far larger
 * is refused unread, so a 50 MB attestation costs nothing.
 */
export const MAX_ATTESTATION_BYTES = 512 * 1024;
/** Attestation layers read per image: each costs a blob read and a verification per key. */
export const MAX_ATTESTATION_LAYERS = 10;
const MAX_ENVELOPE_SIGNATURES = 10;

/** What a provenance rule asks, compiled. */
export interface ProvenanceGate {
  readonly builderId: Matcher;
  readonly sourceRepository: Matcher;
  readonly ref: Matcher | null;
}

/** The rule's provenance requirement, compiled; null when it asks for none. */
export function compileProvenance(rule: Pick<VersionRuleInput, 'provenance'>): ProvenanceGate | null {
  const p = rule.provenance;
  if (p === undefined) return null;
  return {
    builderId: matcher(p.builderId, 'builderId regex', false),
    sourceRepository: matcher(p.sourceRepository, 'sourceRepository regex', false),
    ref: p.ref === undefined ? null : matcher(p.ref, 'ref regex', true),
  };
}

const EnvelopeSchema = z.object({
  payloadType: z.string().max(256),
  payload: z.string(),
  signatures: z
    .array(z.object({ sig: z.string().max(4096), keyid: z.string().max(256).optional() }))
    .max(MAX_ENVELOPE_SIGNATURES),
});

const StatementSchema = z.object({
  _type: z.string(),
  subject: z.array(z.object({ digest: z.record(z.string(), z.string()) })).max(1000),
  predicateType: z.string().max(512),
  // cosign's bundle signatures state nothing but their subject.
  predicate: z.unknown().optional(),
});

const GitSourceSchema = z.union([z.string(), z.object({ uri: z.string() })]);
const SlsaV1Schema = z.object({
  buildDefinition: z.object({
    externalParameters: z
      .object({
        // GitHub Actions' build types (actions.github.io/buildtypes/workflow/v1, slsa-github-generator).
        workflow: z.object({ repository: z.string(), ref: z.string().optional() }).optional(),
        // GitLab's build type (the project's URL), and build types naming a `git+<repo>@<ref>` URI.
        source: GitSourceSchema.optional(),
      })
      .passthrough(),
  }),
  runDetails: z.object({ builder: z.object({ id: z.string() }) }),
});

/** The source a SLSA v1 predicate names as what was built: its repository and ref (null when not named). */
function sourceOf(
  predicate: z.infer<typeof SlsaV1Schema>,
): { repository: string; ref: string | null } | null {
  // Only the build's external parameters say what was built: resolvedDependencies lists every input, so a
  // build of another repository that fetches this one would otherwise pass.
  const { workflow, source } = predicate.buildDefinition.externalParameters;
  if (workflow) return { repository: workflow.repository, ref: workflow.ref ?? null };
  if (source === undefined) return null;
  const uri = typeof source === 'string' ? source : source.uri;
  if (!uri.startsWith('git+')) return { repository: uri, ref: null };
  const at = uri.lastIndexOf('@');
  const slash = uri.indexOf('//');
  // `git+https://host/repo@refs/tags/v1`: the ref follows the last `@` past the authority.
  return at > slash + 2 && slash >= 0
    ? { repository: uri.slice(4, at), ref: uri.slice(at + 1) }
    : { repository: uri.slice(4), ref: null };
}

/** What one attestation says of an image. */
export type AttestationCheck =
  | {
      readonly ok: true;
      readonly by: SignedBy;
      /** What it matched, as history and releases show it. */
      readonly summary: string;
    }
  | {
      readonly ok: false;
      /** Worst first: an attestation of this image from another source outranks an unsigned one. */
      readonly rank: number;
      readonly reason: string;
    };

/**
 * The DSSE attestation layers of a cosign `.att` manifest (or an attestation referrer) that may hold SLSA
 * provenance: those cosign annotates with another predicate type (SBOMs, scans) are passed by unread.
 */
export function attestationLayers(layers: readonly Descriptor[]): Descriptor[] {
  return layers
    .filter((l) => l.mediaType === DSSE_ENVELOPE_TYPE)
    .filter((l) => (l.annotations?.[PREDICATE_ANNOTATION] ?? SLSA_PROVENANCE_V1) === SLSA_PROVENANCE_V1)
    .slice(0, MAX_ATTESTATION_LAYERS);
}

/** Why an attestation layer is not read at all (larger than any provenance, an oversized certificate), or null. */
export function attestationRefusal(layer: Descriptor): string | null {
  if (layer.size > MAX_ATTESTATION_BYTES)
    return `attestation of ${layer.size} bytes, more than ${MAX_ATTESTATION_BYTES}`;
  const certificate = layer.annotations?.[CERTIFICATE_ANNOTATION];
  if (certificate !== undefined && certificate.length > MAX_CERTIFICATE_PEM)
    return `certificate longer than ${MAX_CERTIFICATE_PEM} characters`;
  const entry = layer.annotations?.[TLOG_ANNOTATION];
  if (entry !== undefined && entry.length > MAX_TLOG_ANNOTATION)
    return `transparency-log entry longer than ${MAX_TLOG_ANNOTATION} characters`;
  return null;
}

/** A value from an attestation, cut to 200 characters: a regex rule can pass a very long one into a summary. */
const clip = (value: string) => (value.length > 200 ? `${value.slice(0, 200)}…` : value);
const quoted = (value: string) => JSON.stringify(clip(value));

/** What a signed in-toto statement of this image says, once its signature and subject are checked. */
export type StatementCheck =
  | { readonly ok: true; readonly by: SignedBy; readonly predicateType: string; readonly predicate: unknown }
  | { readonly ok: false; readonly rank: number; readonly reason: string };

/**
 * Checks a DSSE envelope's signatures (over DSSE's pre-authentication encoding) against the signers, then that
 * its payload is an in-toto statement one of whose subjects is this digest.
 */
export function checkSignedStatement(
  payloadType: string,
  payload: Buffer,
  signatures: readonly Buffer[],
  certificate: string | undefined,
  signers: Signers,
  digest: string,
  tlogEntry?: string,
): StatementCheck {
  if (signatures.length === 0) return { ok: false, rank: 1, reason: 'the attestation is unsigned' };
  const signed = dsse.preAuthEncoding(payloadType, payload);
  let by: SignedBy | string = 'not by a trusted key';
  for (const signature of signatures) {
    by = signerOf(signed, signature, certificate, signers, {
      content: { kind: 'dsse', payloadType, payload, signature },
      entry: tlogEntry,
    });
    if (typeof by !== 'string') break;
  }
  if (typeof by === 'string') return { ok: false, rank: 1, reason: by };
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE)
    return { ok: false, rank: 2, reason: `the attestation's payload is ${quoted(payloadType)}, not in-toto` };
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    raw = null;
  }
  const statement = StatementSchema.safeParse(raw);
  if (!statement.success || !STATEMENT_TYPES.includes(statement.data._type))
    return { ok: false, rank: 2, reason: 'the attestation is not an in-toto statement' };
  const hex = digest.replace(/^sha256:/, '');
  if (!statement.data.subject.some((s) => s.digest.sha256 === hex))
    return {
      ok: false,
      rank: 3,
      reason:
        statement.data.predicateType === SLSA_PROVENANCE_V1
          ? 'the provenance is of another image (its subject is not this digest)'
          : 'signature does not match the image digest',
    };
  return { ok: true, by, predicateType: statement.data.predicateType, predicate: statement.data.predicate };
}

/** Whether a signed statement's SLSA v1 provenance names the builder, source repository and ref the gate asks. */
export function checkProvenanceStatement(
  statement: Extract<StatementCheck, { ok: true }>,
  gate: ProvenanceGate,
): AttestationCheck {
  if (statement.predicateType !== SLSA_PROVENANCE_V1)
    return {
      ok: false,
      rank: 2,
      reason: `the attestation is a ${quoted(statement.predicateType)}, not SLSA provenance v1`,
    };
  const predicate = SlsaV1Schema.safeParse(statement.predicate);
  if (!predicate.success)
    return { ok: false, rank: 2, reason: 'the provenance names no builder id or build definition' };
  const builder = predicate.data.runDetails.builder.id;
  if (!gate.builderId.test(builder))
    return {
      ok: false,
      rank: 4,
      reason: `provenance from builder ${quoted(builder)}, not ${gate.builderId.text}`,
    };
  const source = sourceOf(predicate.data);
  if (source === null) return { ok: false, rank: 4, reason: 'the provenance names no source repository' };
  if (!gate.sourceRepository.test(source.repository))
    return {
      ok: false,
      rank: 4,
      reason: `provenance from source repository ${quoted(source.repository)}, not ${gate.sourceRepository.text}`,
    };
  if (gate.ref !== null && (source.ref === null || !gate.ref.test(source.ref)))
    return {
      ok: false,
      rank: 4,
      reason:
        source.ref === null
          ? 'the provenance names no source ref'
          : `provenance from ref ${quoted(source.ref)}, not ${gate.ref.text}`,
    };
  const at = source.ref === null ? '' : `@${clip(source.ref)}`;
  return {
    ok: true,
    by: statement.by,
    summary: `built by ${clip(builder)} from ${clip(source.repository)}${at}`,
  };
}

/**
 * Checks a DSSE attestation envelope: signed by one of the keys over its exact payload, an in-toto statement
 * whose subject is this digest, SLSA provenance v1 whose builder, source repository and ref match the gate.
 */
export function checkAttestation(
  envelopeBytes: Buffer,
  signers: Signers,
  digest: string,
  gate: ProvenanceGate,
  certificate?: string,
  tlogEntry?: string,
): AttestationCheck {
  let raw: unknown;
  try {
    raw = JSON.parse(envelopeBytes.toString('utf8'));
  } catch {
    raw = null;
  }
  const envelope = EnvelopeSchema.safeParse(raw);
  if (!envelope.success) return { ok: false, rank: 0, reason: 'the attestation is not a DSSE envelope' };
  const { payloadType, signatures } = envelope.data;
  const statement = checkSignedStatement(
    payloadType,
    Buffer.from(envelope.data.payload, 'base64'),
    signatures.map((s) => Buffer.from(s.sig, 'base64')),
    certificate,
    signers,
    digest,
    tlogEntry,
  );
  return statement.ok ? checkProvenanceStatement(statement, gate) : statement;
}
