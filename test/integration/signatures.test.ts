import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { createPollActivities } from '../../activities/poll';
import type { PollPackageResult } from '../../workflows/contracts/activities';
import type { VersionRuleInput } from '../../src/domain/rule';
import { SingleFlightCache } from '../../src/feeds/single-flight';
import { CosignKey } from '../support/cosign';
import { FaultProxy } from '../support/fault-proxy';
import { feedClients, ociFeed, pollEnvironment } from '../support/feeds';
import { pushImage, TestRegistry } from '../support/registry';
import { startApi, TestApi } from '../support/api';
import { sendJson, startServer, TestServer } from '../support/http-server';
import { eventually, startTestWorker, TestWorkerEnv } from '../support/temporal';

let registry: TestRegistry;
let proxy: FaultProxy;
/** The release key of 2026, its successor, and a key nobody trusts. */
let current: CosignKey;
let next: CosignKey;
let stranger: CosignKey;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sigTag = (digest: string) => `${digest.replace(':', '-')}.sig`;

async function getManifest(repository: string, ref: string): Promise<string> {
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${ref}`, {
    headers: { accept: OCI_MANIFEST },
  });
  expect(res.status).toBe(200);
  return res.text();
}

async function putManifest(
  repository: string,
  ref: string,
  body: string,
  type = OCI_MANIFEST,
): Promise<void> {
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${ref}`, {
    method: 'PUT',
    headers: { 'content-type': type },
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

const image = (repository: string, tag: string, platform = { os: 'linux', architecture: 'amd64' }) =>
  pushImage(registry.url, repository, tag, {
    config: { ...platform, config: { Labels: { tag } }, rootfs: { type: 'layers', diff_ids: [] } },
  });

beforeAll(async () => {
  registry = await TestRegistry.start();
  proxy = await FaultProxy.start(registry.url);
  [current, next, stranger] = await Promise.all([
    CosignKey.generate(),
    CosignKey.generate(),
    CosignKey.generate(),
  ]);

  // sign/web: 1.0.0 signed; 1.1.0 unsigned; 1.2.0 signed by a stranger; 1.3.0 signed, then its payload
  // tampered with (the signature kept); 1.4.0 carries 1.0.0's signature, copied (valid, of another digest).
  const signedDigest = await image('sign/web', '1.0.0');
  await current.sign(registry.host, 'sign/web', signedDigest);
  await image('sign/web', '1.1.0');
  await stranger.sign(registry.host, 'sign/web', await image('sign/web', '1.2.0'));
  const tampered = await image('sign/web', '1.3.0');
  await current.sign(registry.host, 'sign/web', tampered);
  const sig = JSON.parse(await getManifest('sign/web', sigTag(tampered)));
  const payload = Buffer.from(
    (await (await fetch(`${registry.url}/v2/sign/web/blobs/${sig.layers[0].digest}`)).text()).replace(
      tampered,
      signedDigest,
    ),
  );
  sig.layers[0] = { ...sig.layers[0], digest: await putBlob('sign/web', payload), size: payload.length };
  await putManifest('sign/web', sigTag(tampered), JSON.stringify(sig));
  const copied = await image('sign/web', '1.4.0');
  await putManifest('sign/web', sigTag(copied), await getManifest('sign/web', sigTag(signedDigest)));

  // rotate/api: 1.0.0 signed by the current key, 2.0.0 by the next one only.
  await current.sign(registry.host, 'rotate/api', await image('rotate/api', '1.0.0'));
  await next.sign(registry.host, 'rotate/api', await image('rotate/api', '2.0.0'));
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await registry?.stop();
  for (const key of [current, next, stranger]) key?.remove();
});

function activities() {
  const { source } = feedClients();
  return createPollActivities({
    source,
    feeds: new Map([['lab', ociFeed('lab', proxy.url)]]),
    tagCache: new SingleFlightCache(0),
    digestCache: new SingleFlightCache(0),
    configCache: new SingleFlightCache(0),
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

test('only a version signed by the trusted key is a candidate; the others are skipped with the reason', async () => {
  const result = await poll(activities(), 'sign/web', {
    signatures: { keys: { 'release-2026': current.publicKey } },
  });
  expect(result.candidates).toEqual(['1.0.0']);
  expect(result.digest).toMatch(/^sha256:/);
  expect(result.skipped).toEqual({
    '1.4.0': 'signature does not match the image digest',
    '1.3.0': 'no signature by key `release-2026` (1 signature: not by a trusted key)',
    '1.2.0': 'no signature by key `release-2026` (1 signature: not by a trusted key)',
    '1.1.0': 'no signature by key `release-2026`',
  });
});

test('during a key rotation either key is accepted; a version signed by the next key only is skipped by the old rule', async () => {
  const acts = activities();
  const both = {
    signatures: { keys: { 'release-2026': current.publicKey, 'release-2027': next.publicKey } },
  };
  expect((await poll(acts, 'rotate/api', both)).candidates).toEqual(['2.0.0', '1.0.0']);
  const old = await poll(acts, 'rotate/api', { signatures: { keys: { 'release-2026': current.publicKey } } });
  expect(old.candidates).toEqual(['1.0.0']);
  expect(old.skipped).toEqual({
    '2.0.0': 'no signature by key `release-2026` (1 signature: not by a trusted key)',
  });
});

test('an idle poll verifies nothing again: no signature manifest or payload is read', async () => {
  const acts = activities();
  const rule = { signatures: { keys: { 'release-2026': current.publicKey } } };
  await poll(acts, 'sign/web', rule);
  const reads = () => proxy.count(/\.sig$|\/blobs\//);
  const before = reads();
  const again = await poll(acts, 'sign/web', rule);
  expect(again.candidates).toEqual(['1.0.0']);
  // The stranger's and the tampered signature manifests are read again (a signature may be added); their
  // payloads are not verified again, and the signed version's verdict is remembered.
  expect(reads() - before).toBe(3);
});

test('a signature attached as an OCI 1.1 referrer (cosign sign --registry-referrers-mode oci-1-1) is found through the tag schema index on a registry without the referrers API', async () => {
  // Debian's registry has no referrers route: cosign lists the signature in the `sha256-<hex>` index tag.
  const signed = await image('refs/web', '1.0.0');
  await current.sign(registry.host, 'refs/web', signed, false, true);
  await stranger.sign(registry.host, 'refs/web', await image('refs/web', '1.1.0'), false, true);
  const tags = ((await (await fetch(`${registry.url}/v2/refs/web/tags/list`)).json()) as { tags: string[] })
    .tags;
  expect(tags).toContain(signed.replace(':', '-'));
  expect(tags).not.toContain(sigTag(signed));
  const result = await poll(activities(), 'refs/web', {
    signatures: { keys: { 'release-2026': current.publicKey } },
  });
  expect(result.candidates).toEqual(['1.0.0']);
  expect(result.skipped).toEqual({
    '1.1.0': 'no signature by key `release-2026` (1 signature: not by a trusted key)',
  });
});

test('a platform rule skips an index without a required platform and an image of another platform', async () => {
  const amd64 = await image('multi/app', '1.0.0-amd64');
  const arm64 = await image('multi/app', '1.0.0-arm64', { os: 'linux', architecture: 'arm64' });
  const sizeOf = async (digest: string) => Buffer.byteLength(await getManifest('multi/app', digest));
  const index = (entries: Array<[string, string]>) =>
    Promise.all(
      entries.map(async ([digest, architecture]) => ({
        mediaType: OCI_MANIFEST,
        digest,
        size: await sizeOf(digest),
        platform: { os: 'linux', architecture },
      })),
    ).then((manifests) =>
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }),
    );
  const indexType = 'application/vnd.oci.image.index.v1+json';
  await putManifest(
    'multi/app',
    '1.0.0',
    await index([
      [amd64, 'amd64'],
      [arm64, 'arm64'],
    ]),
    indexType,
  );
  await putManifest('multi/app', '1.1.0', await index([[amd64, 'amd64']]), indexType);
  await image('multi/app', '1.0.5', { os: 'linux', architecture: 'arm64' });
  const acts = activities();
  const both = await poll(acts, 'multi/app', { tag: '^$', platforms: ['linux/amd64', 'linux/arm64'] });
  // A single-platform image passes when it is one of the platforms; an index must hold them all.
  expect(both.candidates).toEqual(['1.0.5', '1.0.0']);
  expect(both.skipped).toEqual({ '1.1.0': 'no linux/arm64 image in the index' });
  const amd = await poll(acts, 'multi/app', { tag: '^$', range: '<1.1.0', platforms: ['linux/amd64'] });
  expect(amd.candidates).toEqual(['1.0.0']);
  expect(amd.skipped).toEqual({ '1.0.5': 'a linux/arm64 image, not linux/amd64' });
});

describe('a hostile registry', () => {
  let hostile: TestServer;
  const sha = (body: string) => `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const imageManifest = (n: number) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(`config${n}`), size: 10 },
      layers: [],
    });
  const images = { '1.0.0': imageManifest(0), '1.1.0': imageManifest(1) };
  const [crowded, huge] = [sha(images['1.0.0']), sha(images['1.1.0'])];
  const layer = (size: number, signature: string) => ({
    mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    digest: sha(`payload${size}`),
    size,
    annotations: { 'dev.cosignproject.cosign/signature': signature },
  });
  // 1.1.0's `.sig` tag holds a signature that is not base64; its one referrer claims a 50 MB payload.
  const notBase64 = JSON.stringify({ schemaVersion: 2, layers: [layer(300, '<script>not base64</script>')] });
  const fifty = JSON.stringify({ schemaVersion: 2, layers: [layer(50 * 1024 * 1024, 'MEUCIQ==')] });
  const referrer = (digest: string, artifactType: string) => ({
    mediaType: OCI_MANIFEST,
    digest,
    size: 100,
    artifactType,
  });
  const manifests: Record<string, string> = {
    ...images,
    [crowded]: images['1.0.0'],
    [huge]: images['1.1.0'],
    [`${huge.replace(':', '-')}.sig`]: notBase64,
    [sha(fifty)]: fifty,
  };

  // referred/app 2.0.0 is signed through the referrers API only (no `.sig` tag), by an Ed25519 key.
  const referredKey = generateKeyPairSync('ed25519');
  const referred = imageManifest(2);
  const referredPayload = JSON.stringify({
    critical: {
      identity: { 'docker-reference': 'referred/app' },
      image: { 'docker-manifest-digest': sha(referred) },
      type: 'cosign container image signature',
    },
    optional: null,
  });
  const referredSignature = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    layers: [
      {
        mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
        digest: sha(referredPayload),
        size: Buffer.byteLength(referredPayload),
        annotations: {
          'dev.cosignproject.cosign/signature': sign(
            null,
            Buffer.from(referredPayload),
            referredKey.privateKey,
          ).toString('base64'),
        },
      },
    ],
    subject: { mediaType: OCI_MANIFEST, digest: sha(referred), size: Buffer.byteLength(referred) },
  });
  const referredRoutes: Record<string, () => [string, string]> = {
    '/v2/referred/app/tags/list': () => [
      'application/json',
      JSON.stringify({ name: 'referred/app', tags: ['2.0.0'] }),
    ],
    '/v2/referred/app/manifests/2.0.0': () => [OCI_MANIFEST, referred],
    [`/v2/referred/app/manifests/${encodeURIComponent(sha(referred))}`]: () => [OCI_MANIFEST, referred],
    [`/v2/referred/app/manifests/${encodeURIComponent(sha(referredSignature))}`]: () => [
      OCI_MANIFEST,
      referredSignature,
    ],
    [`/v2/referred/app/blobs/${sha(referredPayload)}`]: () => ['application/octet-stream', referredPayload],
    [`/v2/referred/app/referrers/${sha(referred)}`]: () => [
      'application/vnd.oci.image.index.v1+json',
      JSON.stringify({
        schemaVersion: 2,
        manifests: [referrer(sha(referredSignature), 'application/vnd.dev.cosign.artifact.sig.v1+json')],
      }),
    ],
  };

  beforeAll(async () => {
    hostile = await startServer((req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      if (path === '/v2/') return sendJson(res, 200, {});
      const route = referredRoutes[path];
      if (route) {
        const [type, body] = route();
        res.writeHead(200, { 'content-type': type, 'docker-content-digest': sha(body) });
        return void res.end(req.method === 'HEAD' ? undefined : body);
      }
      if (path === '/v2/hostile/app/tags/list')
        return sendJson(res, 200, {
          name: 'hostile/app',
          tags: [...Object.keys(images), `${huge.replace(':', '-')}.sig`],
        });
      const manifest = /^\/v2\/hostile\/app\/manifests\/(.+)$/.exec(path);
      const ref = manifest ? decodeURIComponent(manifest[1]) : '';
      if (manifests[ref] !== undefined) {
        const body = manifests[ref];
        res.writeHead(200, { 'content-type': OCI_MANIFEST, 'docker-content-digest': sha(body) });
        return void res.end(req.method === 'HEAD' ? undefined : body);
      }
      // 10,000 referrers (SBOMs, then signatures) for 1.0.0: about 2 MB of index.
      if (path === `/v2/hostile/app/referrers/${crowded}`)
        return sendJson(res, 200, {
          schemaVersion: 2,
          manifests: Array.from({ length: 10_000 }, (_, i) =>
            referrer(
              sha(`sbom${i}`),
              i < 9_000 ? 'application/spdx+json' : 'application/vnd.dev.cosign.artifact.sig.v1+json',
            ),
          ),
        });
      if (path === `/v2/hostile/app/referrers/${huge}`)
        return sendJson(res, 200, {
          schemaVersion: 2,
          manifests: [referrer(sha(fifty), 'application/vnd.dev.cosign.artifact.sig.v1+json')],
        });
      sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'unknown' }] });
    });
  });
  afterAll(() => hostile?.close());

  test('10,000 referrers, a 50 MB payload and a signature that is not base64 are refused with a reason, no payload read', async () => {
    const { source } = feedClients();
    const acts = createPollActivities({
      source,
      feeds: new Map([['hostile', ociFeed('hostile', hostile.url)]]),
      tagCache: new SingleFlightCache(0),
      digestCache: new SingleFlightCache(0),
      configCache: new SingleFlightCache(0),
    });
    const result: PollPackageResult = await pollEnvironment().run(acts.pollPackage, {
      feed: 'hostile',
      package: 'hostile/app',
      rule: { signatures: { keys: { 'release-2026': current.publicKey } } },
      watermark: null,
      limit: 5,
      maxAgeMs: null,
    });
    expect(result.candidates).toEqual([]);
    expect(result.skipped).toEqual({
      '1.1.0': 'no signature by key `release-2026` (2 signatures: signature annotation is not base64)',
      '1.0.0': 'no signature by key `release-2026` (referrers list larger than 524288 bytes, not read)',
    });
    expect(hostile.requests.filter((r) => r.url.includes('/hostile/app/blobs/'))).toEqual([]);
  });

  test('a signature found only through the OCI 1.1 referrers API passes', async () => {
    const { source } = feedClients();
    const acts = createPollActivities({
      source,
      feeds: new Map([['hostile', ociFeed('hostile', hostile.url)]]),
      tagCache: new SingleFlightCache(0),
      digestCache: new SingleFlightCache(0),
      configCache: new SingleFlightCache(0),
    });
    const pem = referredKey.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const poll = (keys: Record<string, string>): Promise<PollPackageResult> =>
      pollEnvironment().run(acts.pollPackage, {
        feed: 'hostile',
        package: 'referred/app',
        rule: { signatures: { keys } },
        watermark: null,
        limit: 5,
        maxAgeMs: null,
      });
    const passed = await poll({ 'referrers-key': pem });
    expect(passed.candidates).toEqual(['2.0.0']);
    expect(passed.digest).toBe(sha(referred));
    expect((await poll({ 'release-2026': current.publicKey })).skipped).toEqual({
      '2.0.0': 'no signature by key `release-2026` (1 signature: not by a trusted key)',
    });
  });
});

describe('a trigger whose channel requires signatures', () => {
  let env: TestWorkerEnv;
  let api: TestApi;
  beforeAll(async () => {
    env = await startTestWorker();
    api = await startApi(env);
  });
  afterAll(async () => {
    await api?.close();
    await env?.stop();
  });

  const releases = async () =>
    (await api.request('GET', '/projects/signed-shop/releases?limit=10')).body.releases as Array<{
      number: string;
      packages: Array<{ tag: string; digest: string }>;
    }>;

  test('releases the signed version, skips an unsigned push with the reason in its history, and releases it once signed', async () => {
    const digest100 = await image('signed-shop/web', '1.0.0');
    await current.sign(registry.host, 'signed-shop/web', digest100);
    const put = await api.request('PUT', '/projects/signed-shop', {
      packages: [{ name: 'web', feed: registry.host, package: 'signed-shop/web' }],
      channels: [
        { name: 'default', rules: [{ signatures: { keys: { 'release-2026': current.publicKey } } }] },
      ],
    });
    expect([200, 201]).toContain(put.status);
    expect(
      (await api.request('POST', '/projects/signed-shop/triggers', { name: 'web', intervalSeconds: 10 }))
        .status,
    ).toBe(201);
    const first = await eventually(
      async () => ((await releases()).length === 1 ? releases() : undefined),
      'release 0.0.1',
    );
    expect(first[0].packages[0]).toMatchObject({ tag: '1.0.0', digest: digest100 });
    const shown = await api.request('GET', `/projects/signed-shop/releases/${first[0].number}`);
    expect(shown.body.verified).toEqual([
      {
        package: 'web',
        digest: digest100,
        key: { name: 'release-2026', fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
        reason: 'signed by key release-2026',
        verifiedAt: expect.any(String),
      },
    ]);

    const digest110 = await image('signed-shop/web', '1.1.0');
    expect((await api.request('POST', '/triggers/signed-shop/web/poll')).status).toBe(202);
    await eventually(async () => {
      const res = await api.request('GET', '/triggers/signed-shop/web/history');
      const reasons = (res.body.history as Array<{ reason: string }>).map((h) => h.reason);
      return reasons.some((r) => r.includes('skipped web 1.1.0: no signature by key `release-2026`'))
        ? true
        : undefined;
    }, 'the unsigned 1.1.0 skipped in the history');
    expect(await releases()).toHaveLength(1);

    await current.sign(registry.host, 'signed-shop/web', digest110);
    expect((await api.request('POST', '/triggers/signed-shop/web/poll')).status).toBe(202);
    const second = await eventually(
      async () => ((await releases()).length === 2 ? releases() : undefined),
      'release 0.0.2',
    );
    expect(second[0].packages[0]).toMatchObject({ tag: '1.1.0', digest: digest110 });
  }, 60_000);

  test('a rule whose key is not a PEM public key is refused at PUT, naming the field', async () => {
    const res = await api.request('PUT', '/projects/signed-bad', {
      packages: [{ name: 'web', feed: registry.host, package: 'signed-shop/web' }],
      channels: [
        { name: 'default', rules: [{ signatures: { keys: { 'release-2026': 'ssh-ed25519 AAAAC3Nz' } } }] },
      ],
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/channels\.0\.rules\.0\.signatures\.keys\.release-2026/);
    expect(JSON.stringify(res.body)).toMatch(/not a PEM public key/);
  });
});
