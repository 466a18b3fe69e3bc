import { createHash, createPrivateKey, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { json, X509Certificate } from '@sigstore/core';
import type { TrustMaterial } from '@sigstore/verify';
import { parseTrustedRoot } from '../../src/supply-chain/keyless';
import { LoggedContent, MAX_TLOG_ANNOTATION, verifyLogged } from '../../src/supply-chain/tlog';
import { CertifiedKey, TestCa } from '../support/test-ca';
import type { ProjectSpecInput } from '../../src/domain/project';
import { startApi, TestApi } from '../support/api';
import { startTestWorker, TestWorkerEnv } from '../support/temporal';

/**
 * A registry is hostile: the `dev.sigstore.cosign/bundle` annotation it serves is read as an attacker wrote
 * it. Each shape is refused with a reason of its own, quickly, and nothing throws out of the verification.
 */
describe('a hostile transparency-log annotation (verifyLogged)', () => {
  let ca: TestCa;
  let leafKey: CertifiedKey;
  let leaf: X509Certificate;
  let material: TrustMaterial;
  const log = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const logIdOf = (key: KeyObject) =>
    createHash('sha256')
      .update(key.export({ type: 'spki', format: 'der' }))
      .digest('hex');
  const payload = Buffer.from('{"critical":{"image":{"docker-manifest-digest":"sha256:00"}}}');
  let content: LoggedContent;
  let now: number;

  /** The hashedrekord body Rekor logs for a signature over `data` (base64 of its canonical JSON). */
  const bodyFor = (signature: Buffer, data: Buffer) =>
    Buffer.from(
      json.canonicalize({
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(data).digest('hex') } },
          signature: {
            content: signature.toString('base64'),
            publicKey: { content: Buffer.from(leafKey.certificate).toString('base64') },
          },
        },
      }),
    ).toString('base64');

  /** cosign's annotation for an entry, its SET made by `key` over `signed` (the entry itself by default). */
  const annotation = (
    entry: { body: string; integratedTime: unknown; logIndex: unknown; logID: string },
    key: KeyObject = log.privateKey,
    signed: object = entry,
  ) =>
    JSON.stringify({
      SignedEntryTimestamp: sign('sha256', Buffer.from(json.canonicalize(signed)), key).toString('base64'),
      Payload: entry,
    });

  const good = () => ({
    body: bodyFor(content.signature, payload),
    integratedTime: now,
    logIndex: 7,
    logID: logIdOf(log.publicKey),
  });
  const check = (a: string) => verifyLogged(a, content, leaf, material, 'attack');
  const reasonOf = (a: string) => {
    const result = check(a);
    return result.ok ? 'accepted' : result.reason;
  };

  beforeAll(async () => {
    ca = await TestCa.create('attack');
    leafKey = await ca.leaf(
      'URI:https://github.com/acme/web/.github/workflows/release.yml',
      'https://issuer.test',
    );
    leaf = X509Certificate.parse(leafKey.certificate);
    const logEntry = {
      baseUrl: 'https://log.test.invalid',
      hashAlgorithm: 'SHA2_256',
      publicKey: {
        rawBytes: log.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
        keyDetails: 'PKIX_ECDSA_P256_SHA_256',
        validFor: { start: '2020-01-01T00:00:00Z' },
      },
      logId: { keyId: Buffer.from(logIdOf(log.publicKey), 'hex').toString('base64') },
    };
    material = parseTrustedRoot('attack', ca.trustedRoot([logEntry])).material;
    content = {
      kind: 'message',
      payload,
      signature: sign('sha256', payload, createPrivateKey(leafKey.privateKey)),
    };
    now = Math.floor(Date.now() / 1000);
  });

  afterAll(() => ca.remove());

  test('the well-formed entry of this signature by the trusted log is accepted (the control)', () => {
    const result = check(annotation(good()));
    expect(result.ok && result.integratedTime.getTime()).toBe(now * 1000);
  });

  test('integratedTime at extremes or of the wrong type is refused as unreadable', () => {
    for (const integratedTime of [-1, 1e20, 1e300, 1.5, now + 0.5, `${now}`, null, true, [now], { n: now }])
      expect([integratedTime, reasonOf(annotation({ ...good(), integratedTime }))]).toEqual([
        integratedTime,
        'the transparency-log entry is not readable',
      ]);
  });

  test('an integratedTime far in the future, signed by the trusted log itself, is refused without throwing', () => {
    // Year 9999 + 1 s: a date JavaScript can hold, and no certificate is valid then.
    const entry = { ...good(), integratedTime: 253402300800 };
    expect(reasonOf(annotation(entry))).toBe('the transparency-log entry is not readable');
    const year3000 = { ...good(), integratedTime: 32503680000 };
    expect(reasonOf(annotation(year3000))).toMatch(
      /^certificate not valid under trusted root attack at its transparency-log time 3000-01-01T00:00:00.000Z/,
    );
  });

  test('wrong types everywhere, not JSON, JSON too deep or too large: refused as unreadable, quickly', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const cases = [
      'not json',
      '',
      'null',
      '[]',
      '"x"',
      '{}',
      JSON.stringify({ SignedEntryTimestamp: 7, Payload: good() }),
      JSON.stringify({ SignedEntryTimestamp: 'AA==', Payload: 'x' }),
      JSON.stringify({ SignedEntryTimestamp: 'AA==', Payload: { ...good(), logIndex: -1 } }),
      JSON.stringify({ SignedEntryTimestamp: 'AA==', Payload: { ...good(), logIndex: '7' } }),
      JSON.stringify({ SignedEntryTimestamp: 'AA==', Payload: { ...good(), logID: 'ZZ'.repeat(32) } }),
      JSON.stringify({ SignedEntryTimestamp: 'AA==', Payload: { ...good(), body: { a: 1 } } }),
      JSON.stringify({ SignedEntryTimestamp: 'AA==', Payload: deep.slice(0, 30_000) }),
    ];
    for (const a of cases)
      expect([a.slice(0, 60), reasonOf(a)]).toEqual([
        a.slice(0, 60),
        'the transparency-log entry is not readable',
      ]);
    expect(reasonOf(deep)).toBe(`transparency-log entry longer than ${MAX_TLOG_ANNOTATION} characters`);
    expect(reasonOf(' '.repeat(10_000_000))).toBe(
      `transparency-log entry longer than ${MAX_TLOG_ANNOTATION} characters`,
    );
    expect(reasonOf(deep.slice(0, 32_000))).toBe('the transparency-log entry is not readable');
  });

  test('a body that is not base64 JSON, or names no kind, is refused', () => {
    for (const body of [
      '%%%not base64%%%',
      Buffer.from('not json').toString('base64'),
      Buffer.from('{"kind":7}').toString('base64'),
    ])
      expect(reasonOf(annotation({ ...good(), body }))).toBe('the transparency-log entry has no kind');
  });

  test('an entry of another log, a SET by another key or over different bytes, a body of another signature', () => {
    const stranger = { ...good(), logID: logIdOf(other.publicKey) };
    expect(reasonOf(annotation(stranger, other.privateKey))).toMatch(
      /^transparency-log entry from a log not in trusted root attack \(logID [0-9a-f]{16}…\)$/,
    );
    const notSignedByLog = /^transparency-log entry not signed by its log/;
    expect(reasonOf(annotation(good(), other.privateKey))).toMatch(notSignedByLog);
    expect(reasonOf(annotation(good(), log.privateKey, { ...good(), integratedTime: now + 3600 }))).toMatch(
      notSignedByLog,
    );
    expect(reasonOf(annotation(good(), log.privateKey, { ...good(), logIndex: 8 }))).toMatch(notSignedByLog);
    const garbageSet = JSON.stringify({ SignedEntryTimestamp: '!!!not base64!!!', Payload: good() });
    expect(reasonOf(garbageSet)).toMatch(notSignedByLog);
    const otherSignature = { ...good(), body: bodyFor(Buffer.from('another signature'), payload) };
    expect(reasonOf(annotation(otherSignature))).toMatch(/^transparency-log entry of another signature/);
    const otherPayload = { ...good(), body: bodyFor(content.signature, Buffer.from('another payload')) };
    expect(reasonOf(annotation(otherPayload))).toMatch(/^transparency-log entry of another signature/);
  });

  test('a body the trusted log signed that lacks the fields a hashedrekord has is refused, not thrown', () => {
    for (const spec of [null, {}, { signature: {} }, { data: 7, signature: { content: 7 } }]) {
      const body = Buffer.from(
        json.canonicalize({ apiVersion: '0.0.1', kind: 'hashedrekord', spec }),
      ).toString('base64');
      expect(() => check(annotation({ ...good(), body }))).not.toThrow();
      expect(reasonOf(annotation({ ...good(), body }))).toMatch(
        /^transparency-log entry (refused \(its body is not a hashedrekord entry|of another signature)/,
      );
    }
  });
});

/**
 * The per-tenant dashboard and history filter, as a viewer and an attacker would call them: a project with
 * many tenants, one of them frozen, and tenant names in every encoding but the one that is a name.
 */
describe('the per-tenant dashboard and history filter under hostile use', () => {
  let env: TestWorkerEnv;
  let api: TestApi;
  const NAME = 'atk-tenants';
  const TENANTS = Array.from({ length: 300 }, (_, i) => `atk-${String(i).padStart(3, '0')}`);

  beforeAll(async () => {
    env = await startTestWorker();
    api = await startApi(env);
    for (let i = 0; i < TENANTS.length; i += 25)
      await Promise.all(
        TENANTS.slice(i, i + 25).map(async (name) =>
          expect((await api.request('PUT', `/tenants/${name}`, { name })).status).toBeLessThan(300),
        ),
      );
    const hook = { name: 'hook', type: 'webhook' as const, url: 'https://deploy.example.com/hook' };
    const spec: ProjectSpecInput = {
      name: NAME,
      packages: [{ name: 'web', feed: 'registry.example', package: `${NAME}/web` }],
      environments: [
        { name: 'dev', targets: [hook] },
        { name: 'prod', targets: [hook] },
      ],
      tenantedDeployments: 'tenanted',
      tenants: TENANTS.map((tenant) => ({ tenant, environments: ['dev', 'prod'] })),
    };
    expect((await api.request('PUT', `/projects/${NAME}`, spec)).status).toBe(201);
    const freeze = await api.request('PUT', '/freezes/atk-one-tenant', {
      timeZone: 'UTC',
      start: new Date(Date.now() - 60_000).toISOString().slice(0, 19),
      end: new Date(Date.now() + 3_600_000).toISOString().slice(0, 19),
      projects: [NAME],
      environments: ['prod'],
      tenants: ['atk-123'],
    });
    expect(freeze.status).toBe(201);
  });

  afterAll(async () => {
    await api?.request('DELETE', '/freezes/atk-one-tenant');
    await api?.close();
    await env?.stop();
  });

  test('a viewer reads 300 tenants in two environments in one answer, the one frozen tenant’s cell frozen', async () => {
    const viewer = await api.tokenFor('viewer');
    const board = await api.request('GET', `/projects/${NAME}/environments`, undefined, { token: viewer });
    expect(board.status).toBe(200);
    type Cell = { tenant: string; freeze: { name: string } | null };
    const byEnv = new Map<string, Cell[]>(
      board.body.environments.map((e: { name: string; tenants: Cell[] }) => [e.name, e.tenants]),
    );
    expect(byEnv.get('dev')?.map((t) => t.tenant)).toEqual(TENANTS);
    expect(byEnv.get('prod')?.filter((t) => t.freeze !== null)).toEqual([
      expect.objectContaining({
        tenant: 'atk-123',
        freeze: expect.objectContaining({ name: 'atk-one-tenant' }),
      }),
    ]);
    expect(byEnv.get('dev')?.every((t) => t.freeze === null)).toBe(true);
    // A viewer reads, and does not write.
    expect((await api.request('PUT', `/tenants/atk-x`, { name: 'atk-x' }, { token: viewer })).status).toBe(
      403,
    );
  });

  test('?tenant= in another case, encoding or number is a 400 naming query.tenant; a real one is answered', async () => {
    const history = (query: string) =>
      api.request('GET', `/projects/${NAME}/environments/prod/deployments?${query}`);
    for (const query of [
      'tenant=ATK-001',
      'tenant=atk-001%00',
      'tenant=%2e%2e',
      'tenant=%252e%252e',
      'tenant=atk-001%2F..',
      'tenant=atk-001&tenant=atk-002',
      'tenant[]=atk-001',
      'tenant=',
      `tenant=${'a'.repeat(10_000)}`,
      'tenant=%E2%80%AEatk',
    ]) {
      const res = await history(query);
      // `tenant[]` is a key of its own, refused by name too: no parser turns it into an array of tenants.
      expect([query.slice(0, 40), res.status, res.body.errors?.[0]?.field?.replace('[]', '')]).toEqual([
        query.slice(0, 40),
        400,
        'query.tenant',
      ]);
    }
    const real = await history('tenant=atk-001');
    expect(real.status).toBe(200);
    expect(real.body.deployments).toEqual([]);
  });
});
