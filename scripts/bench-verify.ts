/**
 * The cost of signature rules (docs/supply-chain.md): 200 packages on Debian's registry, each with a signed
 * image, polled by the worker's poll activity with a rule requiring a cosign signature, verdicts in the
 * embedded ledger. The first poll verifies each new digest; the next (idle) polls must verify nothing.
 * Signatures are written in cosign's own layout (the `sha256-<hex>.sig` tag, simple-signing payload layer,
 * signature annotation) with Node's crypto, so 200 images sign in a second; the tests sign with cosign itself.
 * Then the same with a keyless signer and a provenance rule: each image also keyless-signed and attested (SLSA
 * v1, a `.att` tag) with one CI certificate from a test CA, each signature and attestation logged in a test
 * Rekor log the trusted root lists, so the transparency-log path is what is measured.
 */
import { createHash, createPrivateKey, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { dsse } from '@sigstore/core';
import { parseTrustedRoot } from '../src/supply-chain/keyless';
import { TestRekor } from '../test/support/rekor';
import { CertifiedKey, TestCa } from '../test/support/test-ca';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createPollActivities } from '../activities/poll';
import { openDatabase } from '../src/db/open';
import { VerdictStore } from '../src/db/verdicts';
import { CredentialStore } from '../src/feeds/credentials';
import { DEFAULT_MAX_PAGES, DEFAULT_MAX_TAGS, OciFeed } from '../src/feeds/feed';
import { HelmRepositoryClient } from '../src/feeds/helm';
import { OciClient } from '../src/feeds/oci';
import { PackageSource } from '../src/feeds/package-source';
import { SingleFlightCache } from '../src/feeds/single-flight';
import { HttpClient } from '../src/net/http';
import { metrics } from '../src/observability/metrics';
import type { VersionRuleInput } from '../src/domain/rule';
import type { PollPackageResult } from '../workflows/contracts/activities';
import { pushImage, TestRegistry } from '../test/support/registry';

const PACKAGES = 200;
const IDLE_ROUNDS = 3;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function upload(registryUrl: string, repository: string, blob: Buffer): Promise<string> {
  const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  const location = new URL(start.headers.get('location')!, registryUrl);
  location.searchParams.set('digest', sha256(blob));
  const put = await fetch(location, { method: 'PUT', body: blob });
  if (put.status !== 201) throw new Error(`blob upload ${put.status}`);
  return sha256(blob);
}

/** A keyless signer: its certificate (PEM), its key, and the log its signatures go to. */
interface KeylessSigning {
  readonly certificate: string;
  readonly key: KeyObject;
  readonly rekorUrl: string;
}

/** Logs an entry as cosign does and returns what cosign stores of it (`dev.sigstore.cosign/bundle`). */
async function logEntry(rekorUrl: string, proposed: unknown): Promise<string> {
  const res = await fetch(`${rekorUrl}/api/v1/log/entries`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(proposed),
  });
  const entry = Object.values((await res.json()) as Record<string, Record<string, unknown>>)[0];
  const { body, integratedTime, logIndex, logID, verification } = entry as {
    body: string;
    integratedTime: number;
    logIndex: number;
    logID: string;
    verification: { signedEntryTimestamp: string };
  };
  return JSON.stringify({
    SignedEntryTimestamp: verification.signedEntryTimestamp,
    Payload: { body, integratedTime, logIndex, logID },
  });
}

/** Pushes a manifest of one layer under `tag`. */
async function pushAttached(
  registryUrl: string,
  repository: string,
  tag: string,
  layer: { mediaType: string; blob: Buffer; annotations: Record<string, string> },
): Promise<void> {
  const config = Buffer.from('{}');
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: await upload(registryUrl, repository, config),
      size: 2,
    },
    layers: [
      {
        mediaType: layer.mediaType,
        digest: await upload(registryUrl, repository, layer.blob),
        size: layer.blob.length,
        annotations: layer.annotations,
      },
    ],
  });
  const res = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': OCI_MANIFEST },
    body: manifest,
  });
  if (res.status !== 201) throw new Error(`${tag} push ${res.status}`);
}

/**
 * Keyless-signs and attests `repository@digest` as `cosign sign`/`cosign attest --certificate … --rekor-url …`
 * store them: certificate and log entry annotations on a `.sig` and an `.att` layer.
 */
async function keylessLayout(
  registryUrl: string,
  repository: string,
  digest: string,
  signer: KeylessSigning,
): Promise<void> {
  const pem64 = Buffer.from(signer.certificate).toString('base64');
  const payload = signingPayload(repository, digest);
  const signature = sign('sha256', payload, signer.key);
  const sigEntry = await logEntry(signer.rekorUrl, {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: sha256(payload).slice(7) } },
      signature: { content: signature.toString('base64'), publicKey: { content: pem64 } },
    },
  });
  await pushAttached(registryUrl, repository, `${digest.replace(':', '-')}.sig`, {
    mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    blob: payload,
    annotations: {
      'dev.cosignproject.cosign/signature': signature.toString('base64'),
      'dev.sigstore.cosign/certificate': signer.certificate,
      'dev.sigstore.cosign/bundle': sigEntry,
    },
  });
  const statement = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://slsa.dev/provenance/v1',
      subject: [{ name: repository, digest: { sha256: digest.slice(7) } }],
      predicate: {
        buildDefinition: {
          buildType: 'https://actions.github.io/buildtypes/workflow/v1',
          externalParameters: { workflow: { ref: 'refs/tags/v1.1.0', repository: ACME } },
        },
        runDetails: { builder: { id: BUILDER } },
      },
    }),
  );
  const payloadType = 'application/vnd.in-toto+json';
  const dsseSignature = sign('sha256', dsse.preAuthEncoding(payloadType, statement), signer.key);
  const envelope = JSON.stringify({
    payloadType,
    payload: statement.toString('base64'),
    signatures: [{ keyid: '', sig: dsseSignature.toString('base64') }],
  });
  const attEntry = await logEntry(signer.rekorUrl, {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: { proposedContent: { envelope, verifiers: [pem64] } },
  });
  await pushAttached(registryUrl, repository, `${digest.replace(':', '-')}.att`, {
    mediaType: 'application/vnd.dsse.envelope.v1+json',
    blob: Buffer.from(envelope),
    annotations: {
      predicateType: 'https://slsa.dev/provenance/v1',
      'dev.cosignproject.cosign/signature': '',
      'dev.sigstore.cosign/certificate': signer.certificate,
      'dev.sigstore.cosign/bundle': attEntry,
    },
  });
}

const ACME = 'https://github.com/acme/web';
const BUILDER = 'https://github.com/actions/runner/github-hosted';
const WORKFLOW = `${ACME}/.github/workflows/release.yml@refs/tags/v1.1.0`;
const GITHUB = 'https://token.actions.githubusercontent.com';

/** cosign's simple-signing payload for `repository@digest`. */
function signingPayload(repository: string, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': `127.0.0.1/${repository}` },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
}

/** Signs `repository@digest` as `cosign sign --key` stores it: a `.sig` tag with a simple-signing layer. */
async function cosignLayout(
  registryUrl: string,
  repository: string,
  digest: string,
  privateKey: Parameters<typeof sign>[2],
): Promise<void> {
  const payload = signingPayload(repository, digest);
  await pushAttached(registryUrl, repository, `${digest.replace(':', '-')}.sig`, {
    mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    blob: payload,
    annotations: {
      'dev.cosignproject.cosign/signature': sign('sha256', payload, privateKey).toString('base64'),
    },
  });
}

async function verifications(): Promise<number> {
  const values = (await metrics.imageVerifications.get()).values;
  return values.reduce((sum, v) => sum + v.value, 0);
}

async function main(): Promise<void> {
  const registry = await TestRegistry.start();
  const database = await openDatabase({});
  const [ca, rekor] = await Promise.all([TestCa.create('bench'), TestRekor.start()]);
  try {
    const leaf: CertifiedKey = await ca.leaf(`URI:${WORKFLOW}`, GITHUB);
    const keyless: KeylessSigning = {
      certificate: leaf.certificate,
      key: createPrivateKey(leaf.privateKey),
      rekorUrl: rekor.url,
    };
    const trustedRoots = new Map([
      ['bench', parseTrustedRoot('bench', ca.trustedRoot([rekor.trustedRootEntry()]))],
    ]);
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const packages = Array.from({ length: PACKAGES }, (_, i) => `bench/app-${i}`);
    for (let i = 0; i < packages.length; i += 16)
      await Promise.all(
        packages.slice(i, i + 16).map(async (pkg) => {
          const digest = await pushImage(registry.url, pkg, '1.1.0');
          await cosignLayout(registry.url, pkg, digest, privateKey);
          const keylessPkg = `${pkg}-keyless`;
          const keylessDigest = await pushImage(registry.url, keylessPkg, '1.1.0');
          await keylessLayout(registry.url, keylessPkg, keylessDigest, keyless);
        }),
      );

    const http = new HttpClient();
    const credentials = new CredentialStore(http);
    const oci = new OciClient(http, credentials);
    const feed: OciFeed = {
      id: 'bench',
      type: 'oci',
      url: registry.url,
      auth: { kind: 'anonymous' },
      pageSize: 1000,
      maxTags: DEFAULT_MAX_TAGS,
      helm: false,
      repositoryPrefix: '',
      tokenRealmHosts: [],
      maxPages: DEFAULT_MAX_PAGES,
    };
    // As a worker polls: listings and digests cached for a poll interval, verdicts in the ledger.
    const acts = createPollActivities({
      source: new PackageSource(oci, new HelmRepositoryClient(http, credentials)),
      feeds: new Map([['bench', feed]]),
      tagCache: new SingleFlightCache(0),
      digestCache: new SingleFlightCache(0),
      configCache: new SingleFlightCache(0),
      verdicts: new VerdictStore(database.db),
      trustedRoots,
    });
    // The trigger workflow's start-to-close for a poll (the mock's default is 1 s).
    const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 120_000 });
    const round = async (rule: VersionRuleInput, suffix = '') => {
      const times: number[] = [];
      const requestsBefore = oci.requests;
      const verifiedBefore = await verifications();
      for (const pkg of packages.map((p) => `${p}${suffix}`)) {
        const start = performance.now();
        const result: PollPackageResult = await env.run(acts.pollPackage, {
          feed: 'bench',
          package: pkg,
          rule,
          watermark: null,
          limit: 10, // as a trigger asks (CANDIDATE_LIMIT)
          maxAgeMs: null,
        });
        times.push(performance.now() - start);
        if (result.candidates[0] !== '1.1.0') throw new Error(`${pkg}: ${JSON.stringify(result)}`);
      }
      return {
        median: median(times),
        requests: (oci.requests - requestsBefore) / PACKAGES,
        verifications: (await verifications()) - verifiedBefore,
      };
    };
    const line = (name: string, r: Awaited<ReturnType<typeof round>>) =>
      process.stdout.write(
        `${name.padEnd(46)} median ${r.median.toFixed(2).padStart(7)} ms/package  ` +
          `${r.requests.toFixed(1).padStart(4)} registry requests/package  ${String(r.verifications).padStart(4)} verifications\n`,
      );

    process.stdout.write(
      `${PACKAGES} packages, each with one image 1.1.0 signed (ECDSA P-256), Debian's registry\n`,
    );
    const plain = { tag: '^$' };
    const signed = { tag: '^$', signatures: { keys: { 'release-2026': pem } } };
    await round(plain); // warm-up: connections, JIT
    const baseline = await round(plain);
    line('no signature rule', baseline);
    const first = await round(signed);
    line('signature rule, first poll (each digest new)', first);
    process.stdout.write(
      `verification cost per new digest: ${(first.median - baseline.median).toFixed(2)} ms (median, over the poll without a rule)\n`,
    );
    if (first.verifications !== PACKAGES) throw new Error(`expected ${PACKAGES} verifications`);
    for (let i = 1; i <= IDLE_ROUNDS; i++) {
      const idle = await round(signed);
      line(`signature rule, idle poll ${i}`, idle);
      if (idle.verifications !== 0) throw new Error('an idle poll verified again');
    }
    // A restarted worker has no verdicts in memory: the ledger answers, still without verifying.
    const restarted = createPollActivities({
      source: new PackageSource(oci, new HelmRepositoryClient(http, credentials)),
      feeds: new Map([['bench', feed]]),
      tagCache: new SingleFlightCache(0),
      digestCache: new SingleFlightCache(0),
      configCache: new SingleFlightCache(0),
      verdicts: new VerdictStore(database.db),
      trustedRoots,
    });
    Object.assign(acts, restarted);
    line('signature rule, idle poll after a restart', await round(signed));

    // Keyless (a certificate under the operator's root, its signature and attestation in a Rekor log the root
    // lists) with a provenance rule: two signatures, two log entries and one statement per new digest.
    const keylessPlain = await round(plain, '-keyless');
    line('keyless images, no rule', keylessPlain);
    const provenance = {
      tag: '^$',
      signatures: { keyless: [{ trustedRoot: 'bench', identity: WORKFLOW, issuer: GITHUB }] },
      provenance: { builderId: BUILDER, sourceRepository: ACME, ref: 'refs/tags/v*' },
    };
    const firstKeyless = await round(provenance, '-keyless');
    line('keyless + provenance, first poll (each new)', firstKeyless);
    process.stdout.write(
      `keyless + provenance cost per new digest: ${(firstKeyless.median - keylessPlain.median).toFixed(2)} ms (median, over the poll without a rule)\n`,
    );
    if (firstKeyless.verifications !== PACKAGES)
      throw new Error(`expected ${PACKAGES} keyless verifications`);
    for (let i = 1; i <= IDLE_ROUNDS; i++) {
      const idle = await round(provenance, '-keyless');
      line(`keyless + provenance, idle poll ${i}`, idle);
      if (idle.verifications !== 0) throw new Error('an idle keyless poll verified again');
    }
  } finally {
    await database.close();
    await registry.stop();
    await rekor.close();
    ca.remove();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
