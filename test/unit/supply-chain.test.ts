import { generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { VersionRuleSchema } from '../../src/domain/rule-schema';
import {
  checkSignature,
  layerRefusal,
  MAX_PAYLOAD_BYTES,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_TYPE,
  signatureLayers,
  signatureReferrers,
  COSIGN_SIGNATURE_ARTIFACT,
} from '../../src/supply-chain/cosign';
import { compileGate } from '../../src/supply-chain/gate';
import { keyErrors, parsePublicKey, TrustedKey } from '../../src/supply-chain/keys';
import { configPlatform, imageRefusal, indexPlatforms, indexRefusal } from '../../src/supply-chain/platforms';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;

const payloadFor = (digest: string, type = 'cosign container image signature') =>
  Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': 'lab/web' },
        image: { 'docker-manifest-digest': digest },
        type,
      },
      optional: null,
    }),
  );

interface Pair {
  readonly pem: string;
  readonly privateKey: KeyObject;
  readonly hash: string | null;
}

function pair(kind: 'ec' | 'ed25519' | 'rsa'): Pair {
  const { publicKey, privateKey } =
    kind === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : kind === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  return {
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey,
    hash: kind === 'ed25519' ? null : 'sha256',
  };
}

/** The rule's keys as signature checks take them: no keyless signers. */
const signers = (keys: TrustedKey[]) => ({ keys, keyless: [], at: new Date() });

const signed = (p: Pair, payload: Buffer) => sign(p.hash, payload, p.privateKey).toString('base64');

describe('signature keys', () => {
  test.each(['ec', 'ed25519', 'rsa'] as const)(
    'a %s public key is trusted, with a stable fingerprint',
    (kind) => {
      const p = pair(kind);
      const key = parsePublicKey('release-2026', p.pem);
      expect(key.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(parsePublicKey('renamed', `\n${p.pem}\n`).fingerprint).toBe(key.fingerprint);
    },
  );

  test('keys cosign does not sign with, or too weak, are refused naming why', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    expect(() => parsePublicKey('k', p384.toString())).toThrow('ECDSA keys must be on P-256, not secp384r1');
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    expect(() => parsePublicKey('k', rsa1024.toString())).toThrow('RSA keys need 2048 bits or more');
  });

  test('a rule whose key is not PEM, or too long, or whose platform is malformed, fails validation naming the field', () => {
    const bad = VersionRuleSchema.safeParse({ signatures: { keys: { 'release-2026': 'ssh-ed25519 AAAA' } } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0].path).toEqual(['signatures', 'keys', 'release-2026']);
    expect(bad.error?.issues[0].message).toMatch(/not a PEM public key/);
    const long = VersionRuleSchema.safeParse({ signatures: { keys: { k: 'A'.repeat(100_000) } } });
    expect(long.error?.issues[0].path).toEqual(['signatures', 'keys', 'k']);
    expect(VersionRuleSchema.safeParse({ signatures: { keys: {} } }).success).toBe(false);
    const platform = VersionRuleSchema.safeParse({ platforms: ['linux/amd64', 'linux'] });
    expect(platform.error?.issues[0].path).toEqual(['platforms', 1]);
    expect(
      VersionRuleSchema.safeParse({
        platforms: ['linux/arm64/v8'],
        signatures: { keys: { k: pair('ec').pem } },
      }).success,
    ).toBe(true);
  });

  test('a PEM-shaped key that is no key, or of a kind cosign does not sign with, is an error naming its field', () => {
    const garbage = `-----BEGIN PUBLIC KEY-----\n${'QUFB'.repeat(20)}\n-----END PUBLIC KEY-----`;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    const channels = [
      { name: 'default', rules: [{ signatures: { keys: { good: pair('ec').pem, junk: garbage } } }] },
      { name: 'beta', rules: [{}, { signatures: { keys: { old: p384.toString() } } }] },
    ];
    expect(keyErrors({ channels } as unknown as Parameters<typeof keyErrors>[0])).toEqual([
      {
        field: 'channels.0.rules.0.signatures.keys.junk',
        message: 'the PEM does not hold a readable public key',
      },
      {
        field: 'channels.1.rules.1.signatures.keys.old',
        message: 'ECDSA keys must be on P-256, not secp384r1',
      },
    ]);
  });

  test('the gate fingerprint depends on the keys and platforms, not on key names or order', () => {
    const a = pair('ec');
    const b = pair('ed25519');
    const one = compileGate({ signatures: { keys: { x: a.pem, y: b.pem } }, platforms: ['linux/amd64'] });
    const two = compileGate({
      signatures: { keys: { renamed: b.pem, x: a.pem } },
      platforms: ['linux/amd64'],
    });
    const three = compileGate({ signatures: { keys: { x: a.pem } }, platforms: ['linux/amd64'] });
    expect(one?.fingerprint).toBe(two?.fingerprint);
    expect(three?.fingerprint).not.toBe(one?.fingerprint);
    expect(compileGate({})).toBeNull();
  });
});

describe('cosign signatures', () => {
  test.each(['ec', 'ed25519', 'rsa'] as const)(
    'a %s signature over the payload naming the digest passes',
    (kind) => {
      const p = pair(kind);
      const payload = payloadFor(DIGEST);
      const result = checkSignature(
        payload,
        signed(p, payload),
        signers([parsePublicKey('release-2026', p.pem)]),
        DIGEST,
      );
      expect(result).toMatchObject({ ok: true, by: { name: 'release-2026', text: 'key release-2026' } });
    },
  );

  test('of two trusted keys (a rotation), the one that signed is named', () => {
    const old = pair('ec');
    const current = pair('ec');
    const payload = payloadFor(DIGEST);
    const keys = signers([
      parsePublicKey('release-2025', old.pem),
      parsePublicKey('release-2026', current.pem),
    ]);
    expect(checkSignature(payload, signed(current, payload), keys, DIGEST)).toMatchObject({
      ok: true,
      by: { name: 'release-2026' },
    });
  });

  test('a signature by another key, over a tampered payload, for another digest or of another type fails', () => {
    const trusted = pair('ec');
    const other = pair('ec');
    const keys = signers([parsePublicKey('release-2026', trusted.pem)]);
    const payload = payloadFor(DIGEST);
    expect(checkSignature(payload, signed(other, payload), keys, DIGEST)).toMatchObject({
      ok: false,
      reason: 'not by a trusted key',
    });
    const tampered = Buffer.from(payload.toString().replace('lab/web', 'lab/wex'));
    expect(checkSignature(tampered, signed(trusted, payload), keys, DIGEST)).toMatchObject({
      ok: false,
      rank: 1,
    });
    const elsewhere = payloadFor(OTHER);
    expect(checkSignature(elsewhere, signed(trusted, elsewhere), keys, DIGEST)).toMatchObject({
      ok: false,
      reason: 'signature does not match the image digest',
    });
    const attestation = payloadFor(DIGEST, 'something else');
    expect(checkSignature(attestation, signed(trusted, attestation), keys, DIGEST)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/not a cosign container image signature/),
    });
    const rsaSignature = signed(pair('rsa'), payload);
    expect(checkSignature(payload, rsaSignature, keys, DIGEST)).toMatchObject({ ok: false, rank: 1 });
  });

  test('hostile signature layers are refused before any payload is read', () => {
    const layer = (size: number, signature: string | undefined) => ({
      mediaType: SIMPLE_SIGNING_TYPE,
      digest: DIGEST,
      size,
      ...(signature === undefined ? {} : { annotations: { [SIGNATURE_ANNOTATION]: signature } }),
    });
    expect(layerRefusal(layer(50 * 1024 * 1024, 'AAAA'))).toBe(
      `signature payload of 52428800 bytes, more than ${MAX_PAYLOAD_BYTES}`,
    );
    expect(layerRefusal(layer(300, 'not base64!'))).toBe('signature annotation is not base64');
    expect(layerRefusal(layer(300, 'A'.repeat(100_000)))).toBe('signature annotation is not base64');
    expect(layerRefusal(layer(300, undefined))).toBe('signature layer without a signature annotation');
    expect(layerRefusal(layer(300, 'MEUCIQ=='))).toBeNull();
  });

  test('a signature manifest yields at most 20 simple-signing layers; malformed entries are skipped', () => {
    const good = { mediaType: SIMPLE_SIGNING_TYPE, digest: DIGEST, size: 10 };
    const manifest = Buffer.from(
      JSON.stringify({ layers: [{ digest: 'nope' }, { ...good, mediaType: 'x' }, ...Array(100).fill(good)] }),
    );
    expect(signatureLayers(manifest)).toHaveLength(18);
    expect(signatureLayers(Buffer.from('not json'))).toEqual([]);
  });

  test('an index of 10,000 referrers yields the first few cosign signatures, quickly', () => {
    const other = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: DIGEST,
      size: 10,
      artifactType: 'application/spdx+json',
    };
    const sig = { ...other, artifactType: COSIGN_SIGNATURE_ARTIFACT };
    const index = Buffer.from(
      JSON.stringify({ manifests: [...Array(9_990).fill(other), ...Array(10).fill(sig)] }),
    );
    const found = signatureReferrers(index, 5);
    expect(found).toHaveLength(5);
    expect(found[0].artifactType).toBe(COSIGN_SIGNATURE_ARTIFACT);
  });
});

describe('platform rules', () => {
  const index = {
    manifests: [
      { digest: DIGEST, platform: { os: 'linux', architecture: 'amd64' } },
      { digest: DIGEST, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { digest: DIGEST, platform: { os: 'unknown', architecture: 'unknown' } },
    ],
  };

  test('an index must hold every required platform; a variant-less requirement takes any variant', () => {
    const listed = indexPlatforms(index)!;
    expect(indexRefusal(listed, ['linux/amd64', 'linux/arm64'])).toBeNull();
    expect(indexRefusal(listed, ['linux/arm64/v8'])).toBeNull();
    expect(indexRefusal(listed, ['linux/amd64', 'linux/arm/v7', 'linux/s390x'])).toBe(
      'no linux/arm/v7, linux/s390x image in the index',
    );
    expect(indexPlatforms({ config: { digest: DIGEST } })).toBeNull();
  });

  test('a single image must be one of the required platforms', () => {
    expect(
      imageRefusal(configPlatform({ os: 'linux', architecture: 'amd64' }), ['linux/amd64', 'linux/arm64']),
    ).toBeNull();
    expect(
      imageRefusal(configPlatform({ os: 'linux', architecture: 'arm', variant: 'v6' }), ['linux/arm/v7']),
    ).toBe('a linux/arm/v6 image, not linux/arm/v7');
    expect(imageRefusal(configPlatform({ os: 'windows', architecture: 'amd64' }), ['linux/amd64'])).toBe(
      'a windows/amd64 image, not linux/amd64',
    );
  });
});
