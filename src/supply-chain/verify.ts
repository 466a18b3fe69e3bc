import { createHash } from 'node:crypto';
import { FeedError } from '../feeds/errors';
import {
  checkSignature,
  layerRefusal,
  MAX_PAYLOAD_BYTES,
  SIGNATURE_ANNOTATION,
  COSIGN_SIGNATURE_ARTIFACT,
  Descriptor,
  manifestLayers,
  Signers,
  referrersOfType,
  SignatureCheck,
  signatureLayers,
} from './cosign';
import {
  bundleLayers,
  checkBundle,
  COSIGN_BUNDLE_INDEX_ARTIFACT,
  COSIGN_SIGN_PREDICATE,
  MAX_BUNDLE_BYTES,
  SIGSTORE_BUNDLE_TYPE,
} from './bundles';
import {
  AttestationCheck,
  checkProvenanceStatement,
  SLSA_PROVENANCE_V1,
  StatementCheck,
  attestationLayers,
  attestationRefusal,
  checkAttestation,
  COSIGN_ATTESTATION_ARTIFACT,
  MAX_ATTESTATION_BYTES,
  MAX_ATTESTATION_LAYERS,
} from './provenance';
import { ImageGate, keyNames, signersOf, Verdict } from './gate';
import { CERTIFICATE_ANNOTATION } from './keyless';
import { TLOG_ANNOTATION } from './tlog';
import { configPlatform, imageRefusal, indexPlatforms, indexRefusal } from './platforms';

/** A signature manifest holds a layer per signature: small, whatever the number of signers. */
const MAX_SIGNATURE_MANIFEST_BYTES = 256 * 1024;
/** An index of 10,000 referrers is about 2 MB: past this cap the referrers are not read at all. */
export const MAX_REFERRERS_BYTES = 512 * 1024;
/** Signature manifests read from the referrers API per image. */
const MAX_REFERRED_SIGNATURES = 5;
const MAX_IMAGE_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Registry reads of one repository, as verification needs them (OciClient, bound to a feed). */
export interface ImageReader {
  manifest(ref: string, maxBytes: number): Promise<Buffer>;
  blob(digest: string, maxBytes: number): Promise<Buffer>;
  /** The referrers index, or null where the registry has no referrers API. */
  referrers(digest: string, maxBytes: number): Promise<Buffer | null>;
}

/** What a signature check of one image found, and whether it can change (a signature may be added later). */
export interface SignatureOutcome {
  readonly verdict: Verdict;
  /** The signature evidence read (sha256 of the manifests): the same evidence gives the same verdict. */
  readonly evidence: string;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
}

function tooLarge(err: unknown): boolean {
  return err instanceof FeedError && err.code === 'TOO_LARGE';
}

/** Whether the image has the platforms the gate requires; reads its manifest, and its config for a single image. */
export async function checkPlatforms(
  reader: ImageReader,
  digest: string,
  required: readonly string[],
): Promise<Verdict> {
  const manifest = parseJson(await reader.manifest(digest, MAX_IMAGE_MANIFEST_BYTES));
  const listed = indexPlatforms(manifest);
  let refusal: string | null;
  if (listed !== null) refusal = indexRefusal(listed, required);
  else {
    const config = (manifest as { config?: { digest?: unknown } } | null)?.config?.digest;
    if (typeof config !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(config))
      return { passed: false, reason: 'the image names no config, so no platform', key: null };
    refusal = imageRefusal(configPlatform(parseJson(await reader.blob(config, MAX_CONFIG_BYTES))), required);
  }
  return refusal === null
    ? { passed: true, reason: `platforms ${required.join(', ')}`, key: null }
    : { passed: false, reason: refusal, key: null };
}

/** Where cosign attaches things to an image, and how the referrers API names each kind. */
const ATTACHED = {
  sig: { what: 'signature', artifactType: [COSIGN_SIGNATURE_ARTIFACT] },
  att: { what: 'attestation', artifactType: [COSIGN_ATTESTATION_ARTIFACT] },
  // Bundles have no tag of their own: the OCI referrers tag schema's `sha256-<hex>` index lists them.
  bundle: { what: 'referrers index', artifactType: [SIGSTORE_BUNDLE_TYPE, COSIGN_BUNDLE_INDEX_ARTIFACT] },
} as const;

/** How signature and attestation reads find referrers, and what they already judged. */
export interface AttachedOptions {
  readonly referrers: boolean;
  readonly onNoReferrers?: () => void;
  readonly known?: (evidence: string) => Verdict | undefined;
}

/** The referrers tag schema's index of an image, as read once for every kind of attached manifest. */
interface TagSchemaIndex {
  readonly index: Buffer | null;
  readonly notes: readonly string[];
}

/**
 * The OCI referrers tag schema's index (the `sha256-<hex>` tag) where a registry without the referrers API
 * (Debian's) keeps an image's referrers: cosign's bundles, and signatures `cosign sign
 * --registry-referrers-mode oci-1-1` attaches. Read only when the listing has the tag.
 */
async function tagSchemaIndex(
  reader: ImageReader,
  digest: string,
  tags: ReadonlySet<string>,
): Promise<TagSchemaIndex> {
  const tag = digest.replace(':', '-');
  if (!tags.has(tag)) return { index: null, notes: [] };
  try {
    return { index: await reader.manifest(tag, MAX_REFERRERS_BYTES), notes: [] };
  } catch (err) {
    if (tooLarge(err))
      return { index: null, notes: [`referrers index manifest larger than ${MAX_REFERRERS_BYTES} bytes`] };
    if (err instanceof FeedError && err.code === 'NOT_FOUND') return { index: null, notes: [] };
    throw err;
  }
}

/**
 * The manifests cosign attached to an image: the `sha256-<hex>.<kind>` tag when the listing has it, and the
 * OCI 1.1 referrers of that kind, from the referrers API where the registry has it and the tag schema's index;
 * with notes on what was refused unread and the evidence (sha256 of the manifests read): the same evidence
 * gives the same verdict.
 */
async function attachedManifests(
  reader: ImageReader,
  digest: string,
  tags: ReadonlySet<string>,
  kind: keyof typeof ATTACHED,
  options: AttachedOptions,
  tagSchema: TagSchemaIndex,
): Promise<{ manifests: Buffer[]; notes: string[]; evidence: string }> {
  const manifests: Buffer[] = [];
  const notes: string[] = [...tagSchema.notes];
  const indexes: Buffer[] = tagSchema.index ? [tagSchema.index] : [];
  const tag = `${digest.replace(':', '-')}.${kind}`;
  if (kind !== 'bundle' && tags.has(tag)) {
    try {
      manifests.push(await reader.manifest(tag, MAX_SIGNATURE_MANIFEST_BYTES));
    } catch (err) {
      if (tooLarge(err))
        notes.push(`${ATTACHED[kind].what} manifest larger than ${MAX_SIGNATURE_MANIFEST_BYTES} bytes`);
      else if (!(err instanceof FeedError && err.code === 'NOT_FOUND')) throw err;
    }
  }
  if (options.referrers) {
    let index: Buffer | null = null;
    try {
      index = await reader.referrers(digest, MAX_REFERRERS_BYTES);
      if (index === null) options.onNoReferrers?.();
    } catch (err) {
      if (!tooLarge(err)) throw err;
      notes.push(`referrers list larger than ${MAX_REFERRERS_BYTES} bytes, not read`);
    }
    if (index) indexes.push(index);
  }
  const referred = indexes.flatMap((index) =>
    ATTACHED[kind].artifactType.flatMap((type) => referrersOfType(index, type, MAX_REFERRED_SIGNATURES)),
  );
  const seen = new Set<string>();
  for (const ref of referred.slice(0, MAX_REFERRED_SIGNATURES * 2)) {
    if (seen.has(ref.digest)) continue;
    seen.add(ref.digest);
    manifests.push(await reader.manifest(ref.digest, MAX_SIGNATURE_MANIFEST_BYTES));
  }
  const hash = createHash('sha256');
  for (const m of manifests) hash.update(createHash('sha256').update(m).digest());
  return { manifests, notes, evidence: `sha256:${hash.digest('hex')}` };
}

/**
 * Finds the image's cosign signatures (the `sha256-<hex>.sig` tag when the listing has it, and the OCI 1.1
 * referrers API where the registry has one) and checks them against the gate's keys. `known` answers for
 * evidence already judged, so an unchanged signature manifest is not verified again.
 */
export async function checkSignatures(
  reader: ImageReader,
  digest: string,
  tags: ReadonlySet<string>,
  gate: ImageGate,
  options: AttachedOptions,
): Promise<SignatureOutcome> {
  const { manifests, bundles, notes, evidence, known } = await withBundles(
    reader,
    digest,
    tags,
    'sig',
    options,
  );
  if (known) return { verdict: known, evidence };

  let worst: Extract<SignatureCheck, { ok: false }> | null = null;
  let count = 0;
  const at = new Date();
  for (const layer of bundles.manifests.flatMap((m) => bundleLayers(m, COSIGN_SIGN_PREDICATE))) {
    count++;
    const check = await checkBundleLayer(reader, layer, signersOf(gate, at), digest);
    if (check.ok && check.predicateType === COSIGN_SIGN_PREDICATE) {
      const { name, fingerprint, text } = check.by;
      return {
        verdict: { passed: true, reason: `signed by ${text} (Sigstore bundle)`, key: { name, fingerprint } },
        evidence,
      };
    }
    const failure = check.ok
      ? { ok: false as const, rank: 2, reason: `a Sigstore bundle of a ${check.predicateType.slice(0, 64)}` }
      : check;
    if (worst === null || failure.rank > worst.rank) worst = failure;
  }
  for (const layer of manifests.flatMap((m) => signatureLayers(m))) {
    count++;
    const refusal = layerRefusal(layer);
    let check: SignatureCheck;
    if (refusal !== null) check = { ok: false, rank: 0, reason: refusal };
    else {
      let payload: Buffer | null = null;
      try {
        payload = await reader.blob(layer.digest, MAX_PAYLOAD_BYTES);
      } catch (err) {
        if (!tooLarge(err)) throw err;
      }
      check =
        payload === null
          ? { ok: false, rank: 0, reason: `signature payload larger than ${MAX_PAYLOAD_BYTES} bytes` }
          : checkSignature(
              payload,
              layer.annotations?.[SIGNATURE_ANNOTATION] ?? '',
              signersOf(gate, at),
              digest,
              layer.annotations?.[CERTIFICATE_ANNOTATION],
              layer.annotations?.[TLOG_ANNOTATION],
            );
    }
    if (check.ok) {
      const { name, fingerprint, text } = check.by;
      return { verdict: { passed: true, reason: `signed by ${text}`, key: { name, fingerprint } }, evidence };
    }
    if (worst === null || check.rank > worst.rank) worst = check;
  }
  const reason = failureReason(`no signature by ${keyNames(gate)}`, 'signature', count, notes, worst);
  return { verdict: { passed: false, reason, key: null }, evidence };
}

/**
 * Finds the image's cosign attestations (the `sha256-<hex>.att` tag, and attestation referrers) and checks
 * their SLSA v1 provenance against the gate: signed by one of its keys, of this digest, from the builder,
 * source repository and ref it asks for. Other predicate types (SBOMs) are passed by unread.
 */
export async function checkProvenance(
  reader: ImageReader,
  digest: string,
  tags: ReadonlySet<string>,
  gate: ImageGate,
  options: AttachedOptions,
): Promise<SignatureOutcome> {
  const provenance = gate.provenance;
  if (provenance === null) throw new Error('checkProvenance needs a gate with a provenance rule');
  const { manifests, bundles, notes, evidence, known } = await withBundles(
    reader,
    digest,
    tags,
    'att',
    options,
  );
  if (known) return { verdict: known, evidence };

  let worst: Extract<AttestationCheck, { ok: false }> | null = null;
  let count = 0;
  const at = new Date();
  for (const layer of bundles.manifests.flatMap((m) => bundleLayers(m, SLSA_PROVENANCE_V1))) {
    count++;
    const statement = await checkBundleLayer(reader, layer, signersOf(gate, at), digest);
    const check = statement.ok ? checkProvenanceStatement(statement, provenance) : statement;
    if (check.ok) {
      const { name, fingerprint, text } = check.by;
      return {
        verdict: {
          passed: true,
          reason: `provenance signed by ${text} (Sigstore bundle), ${check.summary}`,
          key: { name, fingerprint },
          attestation: layer.digest,
        },
        evidence,
      };
    }
    if (worst === null || check.rank > worst.rank) worst = check;
  }
  // An `.att` manifest holds a layer per attestation, of every predicate type: read past a few SBOMs.
  const layers = manifests.flatMap((m) => attestationLayers(manifestLayers(m, MAX_ATTESTATION_LAYERS * 5)));
  for (const layer of layers.slice(0, MAX_ATTESTATION_LAYERS)) {
    const refusal = attestationRefusal(layer);
    count++;
    let check: AttestationCheck;
    if (refusal !== null) check = { ok: false, rank: 0, reason: refusal };
    else {
      let envelope: Buffer | null = null;
      try {
        envelope = await reader.blob(layer.digest, MAX_ATTESTATION_BYTES);
      } catch (err) {
        if (!tooLarge(err)) throw err;
      }
      check =
        envelope === null
          ? { ok: false, rank: 0, reason: `attestation larger than ${MAX_ATTESTATION_BYTES} bytes` }
          : checkAttestation(
              envelope,
              signersOf(gate, at),
              digest,
              provenance,
              layer.annotations?.[CERTIFICATE_ANNOTATION],
              layer.annotations?.[TLOG_ANNOTATION],
            );
    }
    if (check.ok) {
      const { name, fingerprint, text } = check.by;
      return {
        verdict: {
          passed: true,
          reason: `provenance signed by ${text}, ${check.summary}`,
          key: { name, fingerprint },
          attestation: layer.digest,
        },
        evidence,
      };
    }
    if (worst === null || check.rank > worst.rank) worst = check;
  }
  const reason = failureReason(
    `no SLSA provenance signed by ${keyNames(gate)}`,
    'attestation',
    count,
    notes,
    worst,
  );
  return { verdict: { passed: false, reason, key: null }, evidence };
}

/** The evidence of two reads together. */
function combined(a: string, b: string): string {
  return `sha256:${createHash('sha256').update(`${a}|${b}`).digest('hex')}`;
}

/**
 * The manifests of `kind` and the Sigstore bundles attached to an image, their notes (both reads find the same
 * referrers list: a refusal of it is said once), their evidence together, and the verdict already known for
 * that evidence, if any.
 */
async function withBundles(
  reader: ImageReader,
  digest: string,
  tags: ReadonlySet<string>,
  kind: 'sig' | 'att',
  options: AttachedOptions,
) {
  const tagSchema = await tagSchemaIndex(reader, digest, tags);
  const own = await attachedManifests(reader, digest, tags, kind, options, tagSchema);
  const bundles = await attachedManifests(reader, digest, tags, 'bundle', options, tagSchema);
  const evidence = combined(own.evidence, bundles.evidence);
  const read = own.manifests.length + bundles.manifests.length > 0;
  return {
    manifests: own.manifests,
    bundles,
    notes: [...new Set([...own.notes, ...bundles.notes])],
    evidence,
    known: read ? options.known?.(evidence) : undefined,
  };
}

/** Why nothing passed: the notes when nothing was read, a strong reason as it is, else the count and the worst. */
function failureReason(
  none: string,
  noun: string,
  count: number,
  notes: readonly string[],
  worst: { readonly rank: number; readonly reason: string } | null,
): string {
  if (count === 0) return notes.length > 0 ? `${none} (${notes.join('; ')})` : none;
  if (worst && worst.rank >= 2) return worst.reason;
  return `${none} (${count} ${noun}${count === 1 ? '' : 's'}: ${worst?.reason ?? 'unreadable'})`;
}

/** Reads a bundle layer (refused unread past MAX_BUNDLE_BYTES) and checks its signed statement. */
async function checkBundleLayer(
  reader: ImageReader,
  layer: Descriptor,
  signers: Signers,
  digest: string,
): Promise<StatementCheck> {
  const refused = {
    ok: false as const,
    rank: 0,
    reason: `Sigstore bundle larger than ${MAX_BUNDLE_BYTES} bytes`,
  };
  if (layer.size > MAX_BUNDLE_BYTES) return refused;
  try {
    return checkBundle(await reader.blob(layer.digest, MAX_BUNDLE_BYTES), signers, digest);
  } catch (err) {
    if (tooLarge(err)) return refused;
    throw err;
  }
}
