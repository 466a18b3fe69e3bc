import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { createPollActivities } from '../../activities/poll';
import type { PollPackageResult } from '../../workflows/contracts/activities';
import type { VersionRuleInput } from '../../src/domain/rule';
import { SingleFlightCache } from '../../src/feeds/single-flight';
import {
  checkCertificate,
  compileKeyless,
  parseTrustedRoot,
  TrustedRootMaterial,
} from '../../src/supply-chain/keyless';
import { MAX_ATTESTATION_BYTES } from '../../src/supply-chain/provenance';
import { feedClients, ociFeed, pollEnvironment } from '../support/feeds';
import { sendJson, startServer, TestServer } from '../support/http-server';
import { pushImage, TestRegistry } from '../support/registry';
import { CertifiedKey, TestCa } from '../support/test-ca';

let registry: TestRegistry;
/** The operator's CA (the stand-in for their Fulcio), and one the worker does not trust. */
let corp: TestCa;
let rogue: TestCa;
let roots: Map<string, TrustedRootMaterial>;

const GITHUB = 'https://token.actions.githubusercontent.com';
const WORKFLOW = 'https://github.com/acme/web/.github/workflows/release.yml@refs/tags/v1.0.0';
const BUILDER = 'https://github.com/actions/runner/github-hosted';
const ACME = 'https://github.com/acme/web';

/** The release workflow of acme/web, as its certificates name it. */
let release: CertifiedKey;

const image = (repository: string, tag: string) =>
  pushImage(registry.url, repository, tag, {
    config: {
      os: 'linux',
      architecture: 'amd64',
      config: { Labels: { tag } },
      rootfs: { type: 'layers', diff_ids: [] },
    },
  });

beforeAll(async () => {
  registry = await TestRegistry.start();
  [corp, rogue] = await Promise.all([TestCa.create('corp'), TestCa.create('rogue')]);
  roots = new Map([['corp', parseTrustedRoot('corp', corp.trustedRoot())]]);
  release = await corp.leaf(`URI:${WORKFLOW}`, GITHUB);
  const [impostor, otherRepo, otherIssuer, person] = await Promise.all([
    rogue.leaf(`URI:${WORKFLOW}`, GITHUB),
    corp.leaf('URI:https://github.com/evil/web/.github/workflows/release.yml@refs/tags/v1.0.0', GITHUB),
    corp.leaf(`URI:${WORKFLOW}`, 'https://gitlab.example'),
    corp.leaf('email:release@acme.example', 'https://accounts.acme.example'),
  ]);

  // kl/web: 1.0.0 signed by acme/web's release workflow; 1.1.0 by the same identity under a rogue CA;
  // 1.2.0 by another repository's workflow; 1.3.0 by the right identity from another issuer; 1.4.0 by a
  // person (an email identity).
  await release.sign(registry.host, 'kl/web', await image('kl/web', '1.0.0'));
  await impostor.sign(registry.host, 'kl/web', await image('kl/web', '1.1.0'));
  await otherRepo.sign(registry.host, 'kl/web', await image('kl/web', '1.2.0'));
  await otherIssuer.sign(registry.host, 'kl/web', await image('kl/web', '1.3.0'));
  await person.sign(registry.host, 'kl/web', await image('kl/web', '1.4.0'));

  // kl/api 1.0.0: signed and attested by the release workflow's certificate (keyless provenance).
  const api = await image('kl/api', '1.0.0');
  await release.sign(registry.host, 'kl/api', api);
  await release.attest(registry.host, 'kl/api', api, {
    buildDefinition: {
      buildType: 'https://actions.github.io/buildtypes/workflow/v1',
      externalParameters: {
        workflow: { ref: 'refs/tags/v1.0.0', repository: ACME, path: '.github/workflows/release.yml' },
      },
    },
    runDetails: { builder: { id: BUILDER } },
  });
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  for (const ca of [corp, rogue]) ca?.remove();
});

function activities(feedUrl = registry.url) {
  const { source } = feedClients();
  return createPollActivities({
    source,
    feeds: new Map([['lab', ociFeed('lab', feedUrl)]]),
    tagCache: new SingleFlightCache(0),
    digestCache: new SingleFlightCache(0),
    configCache: new SingleFlightCache(0),
    trustedRoots: roots,
  });
}

const poll = (acts: ReturnType<typeof activities>, pkg: string, rule: VersionRuleInput) =>
  pollEnvironment().run(acts.pollPackage, {
    feed: 'lab',
    package: pkg,
    rule,
    watermark: null,
    limit: 5,
    maxAgeMs: null,
  }) as Promise<PollPackageResult>;

const workflowSigner = {
  trustedRoot: 'corp',
  identity: { regex: 'https://github\\.com/acme/web/\\.github/workflows/release\\.yml@refs/tags/v.*' },
  issuer: GITHUB,
};

test('a keyless signature passes when its certificate chains to the trusted root and names the identity and issuer', async () => {
  const result = await poll(activities(), 'kl/web', { signatures: { keyless: [workflowSigner] } });
  expect(result.candidates).toEqual(['1.0.0']);
  const identity = '`/https://github\\.com/acme/web/\\.github/workflows/release\\.yml@refs/tags/v.*/`';
  expect(result.skipped).toEqual({
    '1.4.0': `no signature by identity ${identity} (1 signature: certificate for identity "release@acme.example", not /${workflowSigner.identity.regex}/)`,
    '1.3.0': `no signature by identity ${identity} (1 signature: certificate from issuer "https://gitlab.example", not ${GITHUB})`,
    '1.2.0': `no signature by identity ${identity} (1 signature: certificate for identity "https://github.com/evil/web/.github/workflows/release.yml@refs/tags/v1.0.0", not /${workflowSigner.identity.regex}/)`,
    '1.1.0': `no signature by identity ${identity} (1 signature: certificate not valid under trusted root corp (no valid certificate path found))`,
  });
});

test('an email identity passes an exact rule; a signature by either of two keyless signers is accepted', async () => {
  const result = await poll(activities(), 'kl/web', {
    signatures: {
      keyless: [
        { trustedRoot: 'corp', identity: 'release@acme.example', issuer: 'https://accounts.acme.example' },
        workflowSigner,
      ],
    },
  });
  expect(result.candidates).toEqual(['1.4.0', '1.0.0']);
});

test('keyless provenance: an attestation signed by the release workflow’s certificate passes a provenance rule', async () => {
  const rule: VersionRuleInput = {
    signatures: { keyless: [workflowSigner] },
    provenance: { builderId: BUILDER, sourceRepository: ACME, ref: 'refs/tags/v*' },
  };
  const result = await poll(activities(), 'kl/api', rule);
  expect(result.candidates).toEqual(['1.0.0']);
  const evil = await poll(activities(), 'kl/api', {
    ...rule,
    provenance: { builderId: BUILDER, sourceRepository: 'https://github.com/acme/other' },
  });
  expect(evil.skipped).toEqual({
    '1.0.0': `provenance from source repository "${ACME}", not https://github.com/acme/other`,
  });
});

test('a certificate is checked at verification time: past its validity it no longer passes', () => {
  const signers = compileKeyless({ signatures: { keyless: [workflowSigner] } }, (name) => roots.get(name));
  expect(checkCertificate(release.certificate, signers, new Date())).toMatchObject({
    ok: true,
    signer: { identity: WORKFLOW, issuer: GITHUB, root: 'corp' },
  });
  // The leaf lives one day, as a short-lived CI certificate would; in three days it has expired.
  const later = new Date(Date.now() + 3 * 24 * 3600_000);
  expect(checkCertificate(release.certificate, signers, later)).toEqual({
    ok: false,
    reason:
      'certificate not valid under trusted root corp (certificate is not valid or expired at the specified date)',
  });
});

test('a rule naming a trusted root the worker lacks fails the poll, naming it', async () => {
  await expect(
    poll(activities(), 'kl/web', {
      signatures: { keyless: [{ ...workflowSigner, trustedRoot: 'nowhere' }] },
    }),
  ).rejects.toThrow(
    'no trusted root "nowhere" is configured (trustedRoots.nowhere in the worker configuration)',
  );
});

describe('a hostile registry', () => {
  let hostile: TestServer;
  const sha = (body: string | Buffer) => `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
  const imageManifest = (n: number) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(`config${n}`), size: 10 },
      layers: [],
    });
  const images: Record<string, string> = {
    '1.0.0': imageManifest(0),
    '1.1.0': imageManifest(1),
    '1.2.0': imageManifest(2),
    '1.3.0': imageManifest(3),
  };
  const digestOf = (tag: string) => sha(images[tag]);
  const manifests: Record<string, string> = Object.fromEntries(
    Object.entries(images).flatMap(([tag, body]) => [
      [tag, body],
      [sha(body), body],
    ]),
  );
  const blobs: Record<string, string> = {};
  const hostileKey = generateKeyPairSync('ed25519');
  const signatureLayer = (annotations: Record<string, string>) => ({
    mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    digest: sha('payload'),
    size: 200,
    annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ==', ...annotations },
  });
  const referrer = (digest: string) => ({
    mediaType: OCI_MANIFEST,
    digest,
    size: 100,
    artifactType: 'application/vnd.dev.cosign.artifact.att.v1+json',
  });

  beforeAll(async () => {
    const pem = release.certificate;
    // 1.0.0: a signature whose chain annotation holds 1,000 certificates (about 800 KB).
    manifests[`${digestOf('1.0.0').replace(':', '-')}.sig`] = JSON.stringify({
      schemaVersion: 2,
      layers: [
        signatureLayer({
          'dev.sigstore.cosign/certificate': pem,
          'dev.sigstore.cosign/chain': pem.repeat(1000),
        }),
      ],
    });
    // 1.1.0: a certificate annotation of 100 certificates, under the manifest cap.
    manifests[`${digestOf('1.1.0').replace(':', '-')}.sig`] = JSON.stringify({
      schemaVersion: 2,
      layers: [signatureLayer({ 'dev.sigstore.cosign/certificate': pem.repeat(100) })],
    });
    // 1.2.0 and 1.3.0 carry valid signatures by a key of the test's; 1.2.0's one attestation claims 50 MB,
    // and 1.3.0 has 10,000 attestation referrers (about 1.5 MB of index).
    for (const tag of ['1.2.0', '1.3.0']) {
      const payload = JSON.stringify({
        critical: {
          identity: { 'docker-reference': 'hostile/app' },
          image: { 'docker-manifest-digest': digestOf(tag) },
          type: 'cosign container image signature',
        },
        optional: null,
      });
      blobs[sha(payload)] = payload;
      manifests[`${digestOf(tag).replace(':', '-')}.sig`] = JSON.stringify({
        schemaVersion: 2,
        layers: [
          {
            mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
            digest: sha(payload),
            size: Buffer.byteLength(payload),
            annotations: {
              'dev.cosignproject.cosign/signature': sign(
                null,
                Buffer.from(payload),
                hostileKey.privateKey,
              ).toString('base64'),
            },
          },
        ],
      });
    }
    const fifty = JSON.stringify({
      schemaVersion: 2,
      layers: [
        {
          mediaType: 'application/vnd.dsse.envelope.v1+json',
          digest: sha('fifty'),
          size: 50 * 1024 * 1024,
          annotations: { predicateType: 'https://slsa.dev/provenance/v1' },
        },
      ],
    });
    manifests[`${digestOf('1.2.0').replace(':', '-')}.att`] = fifty;
    hostile = await startServer((req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      if (path === '/v2/') return sendJson(res, 200, {});
      if (path === '/v2/hostile/app/tags/list')
        return sendJson(res, 200, {
          name: 'hostile/app',
          tags: [...Object.keys(images), ...Object.keys(manifests).filter((k) => /\.(sig|att)$/.test(k))],
        });
      const manifest = /^\/v2\/hostile\/app\/manifests\/(.+)$/.exec(path);
      const ref = manifest ? decodeURIComponent(manifest[1]) : '';
      if (manifests[ref] !== undefined) {
        const body = manifests[ref];
        res.writeHead(200, { 'content-type': OCI_MANIFEST, 'docker-content-digest': sha(body) });
        return void res.end(req.method === 'HEAD' ? undefined : body);
      }
      const blob = /^\/v2\/hostile\/app\/blobs\/(.+)$/.exec(path);
      if (blob && blobs[blob[1]] !== undefined) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return void res.end(blobs[blob[1]]);
      }
      if (path === `/v2/hostile/app/referrers/${digestOf('1.3.0')}`)
        return sendJson(res, 200, {
          schemaVersion: 2,
          manifests: Array.from({ length: 10_000 }, (_, i) => referrer(sha(`att${i}`))),
        });
      sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'unknown' }] });
    });
  });
  afterAll(() => hostile?.close());

  test('a 1,000-certificate chain and an oversized certificate are refused unread, with the reason', async () => {
    const result = await poll(activities(hostile.url), 'hostile/app', {
      range: '<1.2.0',
      signatures: { keyless: [workflowSigner] },
    });
    expect(result.candidates).toEqual([]);
    expect(result.skipped?.['1.0.0']).toMatch(/\(signature manifest larger than 262144 bytes\)$/);
    expect(result.skipped?.['1.1.0']).toMatch(/\(1 signature: certificate longer than 16384 characters\)$/);
    expect(hostile.requests.filter((r) => r.url.includes('/blobs/'))).toEqual([]);
  });

  test('a 50 MB attestation and 10,000 attestation referrers are refused unread, with the reason', async () => {
    const pem = hostileKey.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const result = await poll(activities(hostile.url), 'hostile/app', {
      range: '>=1.2.0',
      signatures: { keys: { hostile: pem } },
      provenance: { builderId: BUILDER, sourceRepository: ACME },
    });
    expect(result.candidates).toEqual([]);
    expect(result.skipped).toEqual({
      '1.3.0':
        'no SLSA provenance signed by key `hostile` (referrers list larger than 524288 bytes, not read)',
      '1.2.0': `no SLSA provenance signed by key \`hostile\` (1 attestation: attestation of 52428800 bytes, more than ${MAX_ATTESTATION_BYTES})`,
    });
    // The signatures' payloads are read; no attestation is.
    expect(hostile.requests.filter((r) => r.url.includes(sha('fifty')))).toEqual([]);
  });
});
