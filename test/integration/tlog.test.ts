import { setTimeout as delay } from 'node:timers/promises';
import { createPollActivities } from '../../activities/poll';
import type { PollPackageResult } from '../../workflows/contracts/activities';
import type { VersionRuleInput } from '../../src/domain/rule';
import { SingleFlightCache } from '../../src/feeds/single-flight';
import { MemoryVerdicts } from '../../src/db/verdicts';
import { compileGate } from '../../src/supply-chain/gate';
import { parseTrustedRoot, TrustedRootMaterial } from '../../src/supply-chain/keyless';
import { feedClients, ociFeed, pollEnvironment } from '../support/feeds';
import { TestRekor } from '../support/rekor';
import { pushImage, TestRegistry } from '../support/registry';
import { TestCa } from '../support/test-ca';

let registry: TestRegistry;
let ca: TestCa;
/** The log the trusted root lists, and one it does not. */
let rekor: TestRekor;
let stranger: TestRekor;
let roots: Map<string, TrustedRootMaterial>;
let signedAt: number;

const WORKFLOW = 'https://github.com/acme/web/.github/workflows/release.yml@refs/tags/v1.0.0';
const GITHUB = 'https://token.actions.githubusercontent.com';
const ACME = 'https://github.com/acme/web';
const BUILDER = 'https://github.com/actions/runner/github-hosted';

beforeAll(async () => {
  [registry, ca, rekor, stranger] = await Promise.all([
    TestRegistry.start(),
    TestCa.create('tl'),
    TestRekor.start(),
    TestRekor.start(),
  ]);
  roots = new Map([
    ['logged', parseTrustedRoot('logged', ca.trustedRoot([rekor.trustedRootEntry()]))],
    ['unlogged', parseTrustedRoot('unlogged', ca.trustedRoot())],
  ]);
  // A Fulcio-like certificate that lives one second: expired by the time any poll verifies it.
  const start = ca.validFrom;
  const end = new Date(start.getTime() + 1000);
  const leaf = await ca.leaf(`URI:${WORKFLOW}`, GITHUB, { start, end });
  signedAt = Math.floor(start.getTime() / 1000);
  rekor.clock = stranger.clock = () => signedAt;
  const image = (tag: string) => pushImage(registry.url, 'tl/web', tag);
  const [v100, v110, v120, v130, v140] = await Promise.all(
    ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0'].map(image),
  );
  // tl/web: 1.0.0 logged while its certificate was valid; 1.1.0 by a log whose SET covers another time than
  // it states; 1.2.0 by a log the root does not list; 1.3.0 not logged at all; 1.4.0 logged an hour after its certificate expired.
  leaf.rekorUrl = rekor.url;
  await leaf.sign(registry.host, 'tl/web', v100);
  // tl/api 1.0.0: signed and attested (a DSSE entry in the log) while the certificate was valid.
  const api = await pushImage(registry.url, 'tl/api', '1.0.0');
  await leaf.sign(registry.host, 'tl/api', api);
  await leaf.attest(registry.host, 'tl/api', api, {
    buildDefinition: {
      buildType: 'https://actions.github.io/buildtypes/workflow/v1',
      externalParameters: { workflow: { ref: 'refs/tags/v1.0.0', repository: ACME } },
    },
    runDetails: { builder: { id: BUILDER } },
  });
  rekor.tamper = true;
  await leaf.sign(registry.host, 'tl/web', v110);
  rekor.tamper = false;
  leaf.rekorUrl = stranger.url;
  await leaf.sign(registry.host, 'tl/web', v120);
  leaf.rekorUrl = null;
  await leaf.sign(registry.host, 'tl/web', v130);
  leaf.rekorUrl = rekor.url;
  rekor.clock = () => signedAt + 3600;
  await leaf.sign(registry.host, 'tl/web', v140);
  // Whatever the box's speed, verify only once the certificate has expired.
  while (Date.now() <= end.getTime() + 1000) await delay(100);
}, 120_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), rekor?.close(), stranger?.close()]);
  ca?.remove();
});

const signer = (trustedRoot: string) => ({
  signatures: {
    keyless: [{ trustedRoot, identity: { regex: 'https://github\\.com/acme/web/.*' }, issuer: GITHUB }],
  },
});

function activities(verdicts = new MemoryVerdicts()) {
  const { source } = feedClients();
  return createPollActivities({
    source,
    feeds: new Map([['lab', ociFeed('lab', registry.url)]]),
    tagCache: new SingleFlightCache(0),
    digestCache: new SingleFlightCache(0),
    configCache: new SingleFlightCache(0),
    trustedRoots: roots,
    verdicts,
  });
}

const poll = (acts: ReturnType<typeof activities>, rule: VersionRuleInput, pkg = 'tl/web') =>
  pollEnvironment().run(acts.pollPackage, {
    feed: 'lab',
    package: pkg,
    rule,
    watermark: null,
    limit: 1,
    maxAgeMs: null,
  }) as Promise<PollPackageResult>;

test('a logged signature passes after its certificate expired: the certificate is checked at the entry’s time', async () => {
  const verdicts = new MemoryVerdicts();
  const result = await poll(activities(verdicts), signer('logged'));
  expect(result.candidates).toEqual(['1.0.0']);
  const gate = compileGate(signer('logged'), { key: () => undefined, root: (n) => roots.get(n) });
  const verdict = await verdicts.get(result.digest ?? '', gate?.fingerprint ?? '');
  expect(verdict?.reason).toBe(
    `signed by identity ${WORKFLOW} (issuer ${GITHUB}, trusted root logged, in its transparency log at ${new Date(signedAt * 1000).toISOString()})`,
  );
  const identity = '`/https://github\\.com/acme/web/.*/`';
  const refused = (reason: string) => `no signature by identity ${identity} (1 signature: ${reason})`;
  expect(result.skipped).toEqual({
    '1.4.0': refused(
      `certificate not valid under trusted root logged at its transparency-log time ${new Date((signedAt + 3600) * 1000).toISOString()} (certificate is not valid or expired at the specified date)`,
    ),
    '1.3.0': refused(
      'certificate not valid under trusted root logged (certificate is not valid or expired at the specified date; no transparency-log entry shows when it signed)',
    ),
    '1.2.0': refused(
      `transparency-log entry from a log not in trusted root logged (logID ${stranger.logId.toString('hex').slice(0, 16)}…)`,
    ),
    '1.1.0': refused(
      'transparency-log entry not signed by its log (its signed entry timestamp does not verify under trusted root logged)',
    ),
  });
});

test('under a root that lists no transparency log, the entry is not read: the expired certificate is refused', async () => {
  const result = await poll(activities(), signer('unlogged'));
  expect(result.candidates).toEqual([]);
  expect(result.skipped?.['1.0.0']).toBe(
    'no signature by identity `/https://github\\.com/acme/web/.*/` (1 signature: certificate not valid under trusted root unlogged (certificate is not valid or expired at the specified date))',
  );
});

test('a logged attestation passes a provenance rule after its certificate expired (a DSSE entry in the log)', async () => {
  const rule: VersionRuleInput = {
    ...signer('logged'),
    provenance: { builderId: BUILDER, sourceRepository: ACME, ref: 'refs/tags/v*' },
  };
  const verdicts = new MemoryVerdicts();
  const result = await poll(activities(verdicts), rule, 'tl/api');
  expect(result.candidates).toEqual(['1.0.0']);
  const gate = compileGate(rule, { key: () => undefined, root: (n) => roots.get(n) });
  const verdict = await verdicts.get(result.digest ?? '', gate?.fingerprint ?? '');
  const logged = `trusted root logged, in its transparency log at ${new Date(signedAt * 1000).toISOString()}`;
  expect(verdict?.reason).toBe(
    `signed by identity ${WORKFLOW} (issuer ${GITHUB}, ${logged}); provenance signed by identity ${WORKFLOW} (issuer ${GITHUB}, ${logged}), built by ${BUILDER} from ${ACME}@refs/tags/v1.0.0`,
  );
});
