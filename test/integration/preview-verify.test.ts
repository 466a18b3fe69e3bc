import { metrics } from '../../src/observability/metrics';
import { CosignKey } from '../support/cosign';
import { pushImage, TestRegistry } from '../support/registry';
import { startApi, TestApi } from '../support/api';
import { startTestWorker, TestWorkerEnv } from '../support/temporal';

let registry: TestRegistry;
let release: CosignKey;
let stranger: CosignKey;
let env: TestWorkerEnv;
let api: TestApi;

const BUILDER = 'https://github.com/actions/runner/github-hosted';
const ACME = 'https://github.com/acme/web';
const provenance = (repository: string) => ({
  buildDefinition: {
    buildType: 'https://actions.github.io/buildtypes/workflow/v1',
    externalParameters: { workflow: { ref: 'refs/tags/v1.0.0', repository } },
  },
  runDetails: { builder: { id: BUILDER } },
});

beforeAll(async () => {
  [registry, release, stranger] = await Promise.all([
    TestRegistry.start(),
    CosignKey.generate(),
    CosignKey.generate(),
  ]);
  // pv-shop/web: 1.0.0 signed and built from acme/web; 1.1.0 signed, built from another repository; 1.2.0
  // signed by a key nobody trusts.
  const [v100, v110, v120] = await Promise.all(
    ['1.0.0', '1.1.0', '1.2.0'].map((tag) => pushImage(registry.url, 'pv-shop/web', tag)),
  );
  await release.sign(registry.host, 'pv-shop/web', v100);
  await release.attest(registry.host, 'pv-shop/web', v100, provenance(ACME));
  await release.sign(registry.host, 'pv-shop/web', v110);
  await release.attest(registry.host, 'pv-shop/web', v110, provenance('https://github.com/evil/web'));
  await stranger.sign(registry.host, 'pv-shop/web', v120);
  env = await startTestWorker({ signatureKeys: new Map([['release', release.publicKey]]) });
  api = await startApi(env, { signatureKeys: new Set(['release']) });
  const saved = await api.request('PUT', '/projects/pv-shop', {
    packages: [{ name: 'web', feed: registry.host, package: 'pv-shop/web' }],
    channels: [
      {
        name: 'verified',
        rules: [
          {
            signatures: { keys: { 'release-2026': { secret: 'release' } } },
            provenance: { builderId: BUILDER, sourceRepository: ACME },
          },
        ],
      },
      { name: 'any', rules: [{}] },
    ],
  });
  expect([200, 201]).toContain(saved.status);
}, 120_000);

afterAll(async () => {
  await api?.close();
  await env?.stop();
  await registry?.stop();
  for (const key of [release, stranger]) key?.remove();
});

const verifications = async () =>
  (await metrics.imageVerifications.get()).values.reduce((sum, v) => sum + v.value, 0);

test('a channel preview applies signature and provenance rules as a poll does, and says why a version is skipped', async () => {
  const res = await api.request('GET', '/projects/pv-shop/channels/verified/preview');
  expect(res.status).toBe(200);
  const skipped = [
    { tag: '1.2.0', reason: 'no signature by key `release-2026` (1 signature: not by a trusted key)' },
    { tag: '1.1.0', reason: `provenance from source repository "https://github.com/evil/web", not ${ACME}` },
  ];
  const web = res.body.packages.web;
  expect(web).toMatchObject({
    selected: '1.0.0',
    accepted: ['1.0.0'],
    acceptedCount: 1,
    skipped,
    unverifiedCount: 0,
  });
  // The refused versions lead the rejected ones, before cosign's own tags (`sha256-<hex>.sig`, `.att`: 5).
  expect(web.rejected.slice(0, 2)).toEqual(skipped);
  expect(web.rejectedCount).toBe(2 + 5);

  // Again: the passed verdict is remembered and the refused signatures' evidence judged: nothing is verified.
  const before = await verifications();
  const again = await api.request('GET', '/projects/pv-shop/channels/verified/preview');
  expect(again.body.packages.web).toEqual(res.body.packages.web);
  expect(await verifications()).toBe(before);
});

test('a channel without such rules previews by tags alone, as before', async () => {
  const res = await api.request('GET', '/projects/pv-shop/channels/any/preview');
  expect(res.body.packages.web).toMatchObject({
    selected: '1.2.0',
    accepted: ['1.2.0', '1.1.0', '1.0.0'],
    acceptedCount: 3,
    rejectedCount: 5,
  });
  expect(res.body.packages.web).not.toHaveProperty('skipped');
});
