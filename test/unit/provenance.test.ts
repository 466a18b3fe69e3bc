import { generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { VersionRuleSchema } from '../../src/domain/rule-schema';
import { compileGate } from '../../src/supply-chain/gate';
import { keyErrors, parsePublicKey } from '../../src/supply-chain/keys';
import { parseTrustedRoot } from '../../src/supply-chain/keyless';
import {
  attestationLayers,
  attestationRefusal,
  checkAttestation,
  compileProvenance,
  DSSE_ENVELOPE_TYPE,
  MAX_ATTESTATION_BYTES,
  ProvenanceGate,
} from '../../src/supply-chain/provenance';

const HEX = 'a'.repeat(64);
const DIGEST = `sha256:${HEX}`;
const BUILDER = 'https://github.com/actions/runner/github-hosted';
const ACME = 'https://github.com/acme/web';

function ecPair(): { pem: string; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
}
const trusted = ecPair();
const other = ecPair();

const statement = (
  predicate: unknown,
  subjectHex = HEX,
  predicateType = 'https://slsa.dev/provenance/v1',
) => ({
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: 'lab/web', digest: { sha256: subjectHex } }],
  predicateType,
  predicate,
});

const predicate = (externalParameters: unknown, builder = BUILDER) => ({
  buildDefinition: { buildType: 'https://example/buildtype', externalParameters },
  runDetails: { builder: { id: builder } },
});

/** A DSSE envelope as cosign writes one: the signature over DSSE's pre-authentication encoding. */
function envelope(
  body: unknown,
  key = trusted.privateKey,
  payloadType = 'application/vnd.in-toto+json',
): Buffer {
  const payload = Buffer.from(JSON.stringify(body));
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 ${payloadType.length} ${payloadType} ${payload.length} `),
    payload,
  ]);
  return Buffer.from(
    JSON.stringify({
      payloadType,
      payload: payload.toString('base64'),
      signatures: [{ keyid: '', sig: sign('sha256', pae, key).toString('base64') }],
    }),
  );
}

const gate = (rule: Parameters<typeof compileProvenance>[0]['provenance']): ProvenanceGate =>
  compileProvenance({ provenance: rule })!;
const keys = { keys: [parsePublicKey('release', trusted.pem)], keyless: [], at: new Date() };
const github = (repository = ACME, ref = 'refs/tags/v1.2.0') =>
  statement(predicate({ workflow: { repository, ref, path: '.github/workflows/release.yml' } }));

describe('provenance attestations', () => {
  test('a signed SLSA v1 statement of this digest from the trusted builder and repository passes', () => {
    const check = checkAttestation(
      envelope(github()),
      keys,
      DIGEST,
      gate({ builderId: BUILDER, sourceRepository: ACME }),
    );
    expect(check).toMatchObject({ ok: true, summary: `built by ${BUILDER} from ${ACME}@refs/tags/v1.2.0` });
  });

  test('a regex rule passing a huge repository name leaves a summary of bounded size', () => {
    const huge = `${ACME}/${'x'.repeat(100_000)}`;
    const check = checkAttestation(
      envelope(github(huge, `refs/tags/${'v'.repeat(100_000)}`)),
      keys,
      DIGEST,
      gate({ builderId: BUILDER, sourceRepository: { regex: 'https://github\\.com/acme/.*' } }),
    );
    expect(check.ok).toBe(true);
    const summary = (check as { summary: string }).summary;
    expect(summary.length).toBeLessThan(700);
    expect(summary).toContain(`from ${huge.slice(0, 200)}…@refs/tags/v`);
  });

  test('each way to fail names what it found', () => {
    const rule = gate({ builderId: BUILDER, sourceRepository: ACME, ref: 'refs/tags/v*' });
    const reason = (bytes: Buffer, digest = DIGEST) => {
      const check = checkAttestation(bytes, keys, digest, rule);
      return check.ok ? 'passed' : check.reason;
    };
    expect(reason(envelope(github(), other.privateKey))).toBe('not by a trusted key');
    expect(reason(Buffer.from('{"payloadType":"x","payload":"","signatures":[]}'))).toBe(
      'the attestation is unsigned',
    );
    expect(reason(Buffer.from('not json'))).toBe('the attestation is not a DSSE envelope');
    expect(reason(envelope(github()), `sha256:${'b'.repeat(64)}`)).toBe(
      'the provenance is of another image (its subject is not this digest)',
    );
    expect(reason(envelope(github('https://github.com/evil/web')))).toBe(
      `provenance from source repository "https://github.com/evil/web", not ${ACME}`,
    );
    expect(reason(envelope(github(ACME, 'refs/heads/main')))).toBe(
      'provenance from ref "refs/heads/main", not refs/tags/v*',
    );
    expect(
      reason(envelope(statement(predicate({ workflow: { repository: ACME } }, 'https://evil/builder')))),
    ).toBe(`provenance from builder "https://evil/builder", not ${BUILDER}`);
    expect(reason(envelope(statement({}, HEX, 'https://spdx.dev/Document')))).toBe(
      'the attestation is a "https://spdx.dev/Document", not SLSA provenance v1',
    );
    expect(reason(envelope(github(), trusted.privateKey, 'text/plain'))).toBe(
      'the attestation\'s payload is "text/plain", not in-toto',
    );
  });

  test('only the external parameters name the source: a resolved dependency on the repository is not enough', () => {
    const viaDependency = statement({
      ...predicate({ workflow: { repository: 'https://github.com/evil/web', ref: 'refs/tags/v1' } }),
      buildDefinition: {
        externalParameters: { workflow: { repository: 'https://github.com/evil/web', ref: 'refs/tags/v1' } },
        resolvedDependencies: [{ uri: `git+${ACME}@refs/tags/v1` }],
      },
    });
    expect(
      checkAttestation(
        envelope(viaDependency),
        keys,
        DIGEST,
        gate({ builderId: BUILDER, sourceRepository: ACME }),
      ).ok,
    ).toBe(false);
  });

  test('a git+ source URI (GitLab and generic build types) gives the repository and ref', () => {
    const gitlab = statement(predicate({ source: `git+${ACME}@refs/tags/v2.0.0` }));
    expect(
      checkAttestation(
        envelope(gitlab),
        keys,
        DIGEST,
        gate({ builderId: BUILDER, sourceRepository: ACME, ref: 'refs/tags/v2.*' }),
      ),
    ).toMatchObject({ ok: true });
    const plain = statement(predicate({ source: ACME }));
    expect(
      checkAttestation(envelope(plain), keys, DIGEST, gate({ builderId: BUILDER, sourceRepository: ACME })),
    ).toMatchObject({
      ok: true,
    });
  });

  test('regexes match the whole value; a ref glob takes * for any characters and nothing else', () => {
    const rule = gate({
      builderId: { regex: 'https://github\\.com/actions/.+' },
      sourceRepository: { regex: 'https://github\\.com/acme/(web|api)' },
      ref: 'refs/tags/v*.*',
    });
    expect(rule.sourceRepository.test(ACME)).toBe(true);
    expect(rule.sourceRepository.test(`${ACME}-fork`)).toBe(false);
    expect(rule.sourceRepository.test(`https://evil.example/?${ACME}`)).toBe(false);
    expect(rule.ref!.test('refs/tags/v1.2')).toBe(true);
    expect(rule.ref!.test('refs/tags/v1')).toBe(false);
    expect(rule.ref!.test('refs/heads/refs/tags/v1.2')).toBe(false);
    expect(
      gate({ builderId: BUILDER, sourceRepository: ACME, ref: 'refs/tags/v1.0.0' }).ref!.test(
        'refs/tags/v1.0.0x',
      ),
    ).toBe(false);
  });

  test('a 50 MB attestation is refused unread, and other predicate types are passed by', () => {
    const layer = (size: number, predicateType?: string) => ({
      annotations: (predicateType ? { predicateType } : {}) as Record<string, string>,
      mediaType: DSSE_ENVELOPE_TYPE,
      digest: DIGEST,
      size,
    });
    expect(attestationRefusal(layer(50 * 1024 * 1024))).toBe(
      `attestation of 52428800 bytes, more than ${MAX_ATTESTATION_BYTES}`,
    );
    expect(
      attestationLayers([
        layer(10, 'https://spdx.dev/Document'),
        layer(10, 'https://slsa.dev/provenance/v1'),
        layer(10),
      ]),
    ).toHaveLength(2);
  });
});

describe('rules that ask for provenance, and keys named from the configuration', () => {
  test("provenance needs the rule's signature keys; a key is a PEM or { secret }", () => {
    const bad = VersionRuleSchema.safeParse({ provenance: { builderId: BUILDER, sourceRepository: ACME } });
    expect(bad.error?.issues[0]).toMatchObject({
      path: ['provenance'],
      message: expect.stringMatching(/needs signatures\.keys/),
    });
    const regex = VersionRuleSchema.safeParse({
      signatures: { keys: { k: { secret: 'release' } } },
      provenance: { builderId: { regex: '(a' }, sourceRepository: ACME },
    });
    expect(regex.error?.issues[0].path).toEqual(['provenance', 'builderId', 'regex']);
    expect(
      VersionRuleSchema.safeParse({
        signatures: { keys: { k: { secret: 'release' } } },
        provenance: {
          builderId: BUILDER,
          sourceRepository: { regex: 'https://github\\.com/acme/.*' },
          ref: 'refs/tags/*',
        },
      }).success,
    ).toBe(true);
    expect(VersionRuleSchema.safeParse({ signatures: { keys: { k: { secret: '../etc' } } } }).success).toBe(
      false,
    );
  });

  test("a named key resolves through the worker's keys, with the fingerprint of the key itself", () => {
    const named = compileGate(
      { signatures: { keys: { k: { secret: 'release' } } } },
      { key: (n) => (n === 'release' ? trusted.pem : undefined), root: () => undefined },
    );
    const inline = compileGate({ signatures: { keys: { k: trusted.pem } } });
    expect(named?.fingerprint).toBe(inline?.fingerprint);
    expect(() => compileGate({ signatures: { keys: { k: { secret: 'gone' } } } })).toThrow(
      'key k: no signature key "gone" is configured (signatureKeys.gone in the worker configuration)',
    );
    // A provenance rule is part of the gate: its verdicts are not those of the signature rule alone.
    const withProvenance = compileGate({
      signatures: { keys: { k: trusted.pem } },
      provenance: { builderId: BUILDER, sourceRepository: ACME },
    });
    expect(withProvenance?.fingerprint).not.toBe(inline?.fingerprint);
  });

  test('saving a project checks named keys against the configured names', () => {
    const spec = {
      channels: [{ name: 'default', rules: [{ signatures: { keys: { k: { secret: 'nope' } } } }] }],
    } as never;
    expect(keyErrors(spec)).toEqual([]);
    expect(keyErrors(spec, { keys: new Set(['release']) })).toEqual([
      {
        field: 'channels.0.rules.0.signatures.keys.k.secret',
        message: 'no signature key "nope" is configured (signatureKeys.nope in the worker configuration)',
      },
    ]);
  });

  test('signatureKeys in the configuration file are read from the environment or a file, and must be keys', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-keys-'));
    try {
      writeFileSync(path.join(dir, 'release.pub'), trusted.pem);
      const file = path.join(dir, 'config.yaml');
      writeFileSync(file, 'signatureKeys:\n  release: { file: release.pub }\n  next: { env: NEXT_KEY }\n');
      const config = loadConfig({ FEED_TRIGGERS_CONFIG: file, NEXT_KEY: other.pem });
      expect(config.signatureKeys.get('release')).toBe(trusted.pem.trim());
      expect(config.signatureKeys.get('next')).toBe(other.pem);
      expect(() => loadConfig({ FEED_TRIGGERS_CONFIG: file, NEXT_KEY: 'not a key' })).toThrow(
        /signatureKeys\.next: not a PEM public key/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('trusted roots', () => {
  const root = (authorities: unknown[]) =>
    JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [],
      certificateAuthorities: authorities,
      ctlogs: [],
      timestampAuthorities: [],
    });
  const authority = (count: number) => ({
    subject: { organization: 'x', commonName: 'x' },
    uri: 'https://fulcio.example',
    certChain: { certificates: Array.from({ length: count }, () => ({ rawBytes: 'AAAA' })) },
    validFor: { start: '2020-01-01T00:00:00Z' },
  });

  test('a file that is not a trusted root, lists no authority or a chain of 1,000 certificates is refused, naming why', () => {
    expect(() => parseTrustedRoot('corp', 'not json')).toThrow(/^not a Sigstore trusted root/);
    expect(() => parseTrustedRoot('corp', root([]))).toThrow('lists no certificateAuthorities');
    expect(() => parseTrustedRoot('corp', root([authority(1000)]))).toThrow(
      'certificateAuthorities.0.certChain: 1 to 10 certificates, not 1000',
    );
    expect(() => parseTrustedRoot('corp', root([authority(1)]))).toThrow(/^its certificates do not parse/);
    expect(() => parseTrustedRoot('corp', ' '.repeat(2 * 1024 * 1024))).toThrow('larger than 1048576 bytes');
  });

  test('the configuration names the file of a root that does not parse', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-roots-'));
    try {
      writeFileSync(path.join(dir, 'root.json'), root([]));
      const file = path.join(dir, 'config.yaml');
      writeFileSync(file, 'trustedRoots:\n  corp: { file: root.json }\n');
      expect(() => loadConfig({ FEED_TRIGGERS_CONFIG: file })).toThrow(
        /trustedRoots\.corp: lists no certificateAuthorities/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
