import { createHash } from 'node:crypto';
import { createPollActivities } from '../../activities/poll';
import type { PollPackageResult } from '../../workflows/contracts/activities';
import type { VersionRuleInput } from '../../src/domain/rule';
import { SingleFlightCache } from '../../src/feeds/single-flight';
import { CosignKey } from '../support/cosign';
import { feedClients, ociFeed, pollEnvironment } from '../support/feeds';
import { pushImage, TestRegistry } from '../support/registry';
import { startApi, TestApi } from '../support/api';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let registry: TestRegistry;
/** The release key, and a key nobody trusts. */
let release: CosignKey;
let stranger: CosignKey;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const BUILDER = 'https://github.com/actions/runner/github-hosted';
const ACME = 'https://github.com/acme/web';
const attTag = (digest: string) => `${digest.replace(':', '-')}.att`;

/** SLSA v1 provenance as GitHub Actions' build type writes it. */
const provenance = (repository: string, ref = 'refs/tags/v1.0.0', builder = BUILDER) => ({
  buildDefinition: {
    buildType: 'https://actions.github.io/buildtypes/workflow/v1',
    externalParameters: { workflow: { ref, repository, path: '.github/workflows/release.yml' } },
    internalParameters: {},
    // A dependency is not the source: a build of another repository that fetches acme/web must not pass.
    resolvedDependencies: [{ uri: `git+${ACME}@refs/tags/v1.0.0`, digest: { gitCommit: 'a'.repeat(40) } }],
  },
  runDetails: { builder: { id: builder }, metadata: { invocationID: 'run-1' } },
});

async function getManifest(repository: string, ref: string): Promise<string> {
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${ref}`, {
    headers: { accept: OCI_MANIFEST },
  });
  expect(res.status).toBe(200);
  return res.text();
}

async function putManifest(repository: string, ref: string, body: string): Promise<void> {
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${ref}`, {
    method: 'PUT',
    headers: { 'content-type': OCI_MANIFEST },
    body,
  });
  expect(res.status).toBe(201);
}

async function putBlob(repository: string, blob: Buffer): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const start = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  const location = new URL(start.headers.get('location')!, registry.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: blob });
  expect(put.status).toBe(201);
  return digest;
}

const image = (repository: string, tag: string) =>
  pushImage(registry.url, repository, tag, {
    config: {
      os: 'linux',
      architecture: 'amd64',
      config: { Labels: { tag } },
      rootfs: { type: 'layers', diff_ids: [] },
    },
  });

/** Pushes, signs and (unless `predicate` is null) attests a version with the release key. */
async function released(repository: string, tag: string, predicate: unknown | null, by = release) {
  const digest = await image(repository, tag);
  await release.sign(registry.host, repository, digest);
  if (predicate !== null) await by.attest(registry.host, repository, digest, predicate);
  return digest;
}

let acmeDigest: string;

beforeAll(async () => {
  registry = await TestRegistry.start();
  [release, stranger] = await Promise.all([CosignKey.generate(), CosignKey.generate()]);

  // prov/web, all signed by the release key: 1.0.0 built from acme/web; 1.1.0 from another repository;
  // 1.2.0 attested by a stranger; 1.3.0 carries 1.0.0's attestation, copied; 1.4.0 has none.
  acmeDigest = await released('prov/web', '1.0.0', provenance(ACME));
  await released('prov/web', '1.1.0', provenance('https://github.com/evil/web'));
  await released('prov/web', '1.2.0', provenance(ACME), stranger);
  const copied = await released('prov/web', '1.3.0', null);
  await putManifest('prov/web', attTag(copied), await getManifest('prov/web', attTag(acmeDigest)));
  await released('prov/web', '1.4.0', null);

  // prov/api: 1.0.0 built at a release tag, 1.1.0 from main, 1.2.0's attestation stripped of its signatures.
  await released('prov/api', '1.0.0', provenance(ACME, 'refs/tags/v1.0.0'));
  await released('prov/api', '1.1.0', provenance(ACME, 'refs/heads/main'));
  const stripped = await released('prov/api', '1.2.0', provenance(ACME, 'refs/tags/v1.2.0'));
  const att = JSON.parse(await getManifest('prov/api', attTag(stripped)));
  const blob = await (await fetch(`${registry.url}/v2/prov/api/blobs/${att.layers[0].digest}`)).text();
  const unsigned = Buffer.from(JSON.stringify({ ...JSON.parse(blob), signatures: [] }));
  att.layers[0] = { ...att.layers[0], digest: await putBlob('prov/api', unsigned), size: unsigned.length };
  await putManifest('prov/api', attTag(stripped), JSON.stringify(att));
}, 90_000);

afterAll(async () => {
  await registry?.stop();
  for (const key of [release, stranger]) key?.remove();
});

function activities(signatureKeys?: ReadonlyMap<string, string>) {
  const { source } = feedClients();
  return createPollActivities({
    source,
    feeds: new Map([['lab', ociFeed('lab', registry.url)]]),
    tagCache: new SingleFlightCache(0),
    digestCache: new SingleFlightCache(0),
    configCache: new SingleFlightCache(0),
    signatureKeys,
  });
}

const poll = (
  acts: ReturnType<typeof activities>,
  pkg: string,
  rule: VersionRuleInput,
): Promise<PollPackageResult> =>
  pollEnvironment().run(acts.pollPackage, {
    feed: 'lab',
    package: pkg,
    rule,
    watermark: null,
    limit: 5,
    maxAgeMs: null,
  });

const rule = (
  provenanceRule: NonNullable<VersionRuleInput['provenance']>,
  key: string | { secret: string } = release.publicKey,
): VersionRuleInput => ({ signatures: { keys: { 'release-2026': key } }, provenance: provenanceRule });

test('only the version whose provenance names the trusted builder and source repository is a candidate', async () => {
  const result = await poll(activities(), 'prov/web', rule({ builderId: BUILDER, sourceRepository: ACME }));
  expect(result.candidates).toEqual(['1.0.0']);
  expect(result.digest).toBe(acmeDigest);
  expect(result.skipped).toEqual({
    '1.4.0': 'no SLSA provenance signed by key `release-2026`',
    '1.3.0': 'the provenance is of another image (its subject is not this digest)',
    '1.2.0': 'no SLSA provenance signed by key `release-2026` (1 attestation: not by a trusted key)',
    '1.1.0': `provenance from source repository "https://github.com/evil/web", not ${ACME}`,
  });
});

test('an RE2 pattern matches the whole value; a wrong builder is skipped', async () => {
  const acts = activities();
  const acmeOrg = await poll(
    acts,
    'prov/web',
    rule({
      builderId: { regex: 'https://github\\.com/actions/.+' },
      sourceRepository: { regex: 'https://github\\.com/acme/[a-z]+' },
    }),
  );
  expect(acmeOrg.candidates).toEqual(['1.0.0']);
  // `acme/` alone is no whole-value match for `https://github.com/acme/web`.
  const prefix = await poll(
    acts,
    'prov/web',
    rule({ builderId: BUILDER, sourceRepository: { regex: 'https://github\\.com/acme/' } }),
  );
  expect(prefix.candidates).toEqual([]);
  const builder = await poll(
    acts,
    'prov/web',
    rule({ builderId: 'https://ci.acme.example/builder', sourceRepository: ACME }),
  );
  expect(builder.candidates).toEqual([]);
  expect(builder.skipped?.['1.0.0']).toBe(
    `provenance from builder "${BUILDER}", not https://ci.acme.example/builder`,
  );
});

test('a ref pattern takes release tags only; an attestation stripped of its signatures is skipped', async () => {
  const result = await poll(
    activities(),
    'prov/api',
    rule({ builderId: BUILDER, sourceRepository: ACME, ref: 'refs/tags/v*' }),
  );
  expect(result.candidates).toEqual(['1.0.0']);
  expect(result.skipped).toEqual({
    '1.2.0': 'no SLSA provenance signed by key `release-2026` (1 attestation: the attestation is unsigned)',
    '1.1.0': 'provenance from ref "refs/heads/main", not refs/tags/v*',
  });
});

test('Sigstore bundles (cosign --new-bundle-format, as OCI referrers) carry signatures and provenance', async () => {
  // prov/bundle: 1.0.0 signed and attested in bundles by the release key; 1.1.0 in bundles by a stranger;
  // 1.2.0 signed in a bundle, its provenance (a bundle) from another repository.
  const bundled = async (tag: string, key: CosignKey, repository = ACME) => {
    const digest = await image('prov/bundle', tag);
    await key.sign(registry.host, 'prov/bundle', digest, true);
    await key.attest(registry.host, 'prov/bundle', digest, provenance(repository), true);
    return digest;
  };
  const good = await bundled('1.0.0', release);
  await bundled('1.1.0', stranger);
  const evil = await image('prov/bundle', '1.2.0');
  await release.sign(registry.host, 'prov/bundle', evil, true);
  await release.attest(registry.host, 'prov/bundle', evil, provenance('https://github.com/evil/web'), true);

  const signed = await poll(activities(), 'prov/bundle', {
    signatures: { keys: { 'release-2026': release.publicKey } },
  });
  expect(signed.candidates).toEqual(['1.2.0', '1.0.0']);
  expect(signed.skipped).toBeUndefined();
  const attested = await poll(
    activities(),
    'prov/bundle',
    rule({ builderId: BUILDER, sourceRepository: ACME }),
  );
  expect(attested.candidates).toEqual(['1.0.0']);
  expect(attested.digest).toBe(good);
  expect(attested.skipped).toEqual({
    '1.2.0': `provenance from source repository "https://github.com/evil/web", not ${ACME}`,
    '1.1.0': 'no signature by key `release-2026` (1 signature: not by a trusted key)',
  });
});

test('a key named by { secret } is read from the worker configuration; a worker without it fails the poll, naming it', async () => {
  const named = rule({ builderId: BUILDER, sourceRepository: ACME }, { secret: 'release' });
  const withKey = await poll(activities(new Map([['release', release.publicKey]])), 'prov/web', named);
  expect(withKey.candidates).toEqual(['1.0.0']);
  const wrongKey = await poll(activities(new Map([['release', stranger.publicKey]])), 'prov/web', named);
  expect(wrongKey.candidates).toEqual([]);
  await expect(poll(activities(), 'prov/web', named)).rejects.toThrow(
    'no signature key "release" is configured (signatureKeys.release in the worker configuration)',
  );
});

describe('a trigger whose channel requires provenance', () => {
  let env: TestWorkerEnv;
  let api: TestApi;
  beforeAll(async () => {
    env = await startTestWorker({ signatureKeys: new Map([['release', release.publicKey]]) });
    api = await startApi(env, { signatureKeys: new Set(['release']) });
  });
  afterAll(async () => {
    await api?.close();
    await env?.stop();
  });

  const spec = (key: { secret: string }) => ({
    packages: [{ name: 'web', feed: registry.host, package: 'prov-shop/web' }],
    channels: [
      {
        name: 'default',
        rules: [
          {
            signatures: { keys: { 'release-2026': key } },
            provenance: { builderId: BUILDER, sourceRepository: ACME, ref: 'refs/tags/v*' },
          },
        ],
      },
    ],
  });
  const releases = async () =>
    (await api.request('GET', '/projects/prov-shop/releases?limit=10')).body.releases as Array<{
      number: string;
      packages: Array<{ tag: string; digest: string }>;
    }>;

  test('releases the version built from the trusted repository and skips one from another, with the reason in history', async () => {
    const digest100 = await released('prov-shop/web', '1.0.0', provenance(ACME));
    expect([200, 201]).toContain(
      (await api.request('PUT', '/projects/prov-shop', spec({ secret: 'release' }))).status,
    );
    expect(
      (await api.request('POST', '/projects/prov-shop/triggers', { name: 'web', intervalSeconds: 10 }))
        .status,
    ).toBe(201);
    const first = await eventually(
      async () => ((await releases()).length === 1 ? releases() : undefined),
      'release of 1.0.0',
    );
    expect(first[0].packages[0]).toMatchObject({ tag: '1.0.0', digest: digest100 });
    const shown = await api.request('GET', `/projects/prov-shop/releases/${first[0].number}`);
    expect(shown.body.verified).toEqual([
      {
        package: 'web',
        digest: digest100,
        key: { name: 'release-2026', fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
        attestation: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
        reason: `signed by key release-2026; provenance signed by key release-2026, built by ${BUILDER} from ${ACME}@refs/tags/v1.0.0`,
        verifiedAt: expect.any(String),
      },
    ]);

    await released('prov-shop/web', '1.1.0', provenance('https://github.com/evil/web', 'refs/tags/v1.1.0'));
    expect((await api.request('POST', '/triggers/prov-shop/web/poll')).status).toBe(202);
    await eventually(async () => {
      const res = await api.request('GET', '/triggers/prov-shop/web/history');
      const reasons = (res.body.history as Array<{ reason: string }>).map((h) => h.reason);
      return reasons.some((r) =>
        r.includes('skipped web 1.1.0: provenance from source repository "https://github.com/evil/web"'),
      )
        ? true
        : undefined;
    }, 'the 1.1.0 from another repository skipped in the history');
    expect(await releases()).toHaveLength(1);
  }, 90_000);

  test('a rule naming a key the configuration lacks, or asking provenance without keys, is refused at PUT', async () => {
    const unknown = await api.request('PUT', '/projects/prov-bad', spec({ secret: 'nobody' }));
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toMatch(
      /channels\.0\.rules\.0\.signatures\.keys\.release-2026\.secret/,
    );
    expect(JSON.stringify(unknown.body)).toMatch(/no signature key \\"nobody\\" is configured/);
    const keyless = await api.request('PUT', '/projects/prov-bad', {
      ...spec({ secret: 'release' }),
      channels: [
        { name: 'default', rules: [{ provenance: { builderId: BUILDER, sourceRepository: ACME } }] },
      ],
    });
    expect(keyless.status).toBe(400);
    expect(JSON.stringify(keyless.body)).toMatch(/provenance needs signatures\.keys/);
  });
});
