import { createHmac, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { JwksCache, oidcRefusal } from '../../src/receivers/oidc';
import { OidcConfig, OidcSchema } from '../../src/receivers/spec';
import { STRICT_OUTBOUND } from '../../src/net/outbound';

const AUDIENCE = 'https://feed-triggers.example.com/hooks/gar';
const EMAIL = 'pubsub-push@my-project.iam.gserviceaccount.com';
const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
const now = 1_800_000_000;
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwk = (key: KeyObject, kid?: string) => ({ ...key.export({ format: 'jwk' }), ...(kid ? { kid } : {}) });

function token(claims: object = {}, header: object = {}): string {
  const head = `${b64({ alg: 'RS256', kid: 'k1', typ: 'JWT', ...header })}.${b64({
    iss: 'https://accounts.google.com',
    aud: AUDIENCE,
    email: EMAIL,
    email_verified: true,
    iat: now,
    exp: now + 3600,
    ...claims,
  })}`;
  return `Bearer ${head}.${sign('sha256', Buffer.from(head), pair.privateKey).toString('base64url')}`;
}

/** A JWKS URL that must never be read: every case here holds its keys in the configuration. */
const noRemote = new JwksCache(STRICT_OUTBOUND);
const config = (keys: object[]): OidcConfig =>
  OidcSchema.parse({ audience: AUDIENCE, serviceAccountEmail: EMAIL, jwks: { keys } });

describe('OIDC ID tokens of a gar receiver (verified by jose)', () => {
  test('a token Google would sign with the configured key is accepted', async () => {
    expect(await oidcRefusal(config([jwk(pair.publicKey, 'k1')]), token(), noRemote, now)).toBeNull();
  });

  test('a single key without a kid verifies a token whatever kid it names', async () => {
    expect(
      await oidcRefusal(config([jwk(pair.publicKey)]), token({}, { kid: 'rotated' }), noRemote, now),
    ).toBeNull();
  });

  test('each forged, stale or misdirected token is refused with the check that failed', async () => {
    const keys = config([jwk(pair.publicKey, 'k1')]);
    const hsHead = `${b64({ alg: 'HS256', kid: 'k1' })}.${token().split('.')[1]}`;
    const publicPem = pair.publicKey.export({ format: 'pem', type: 'spki' });
    const hs = `Bearer ${hsHead}.${createHmac('sha256', publicPem).update(hsHead).digest('base64url')}`;
    const [h, , signature] = token().slice(7).split('.');
    const tampered = `Bearer ${h}.${b64({ iss: 'https://accounts.google.com', aud: AUDIENCE, exp: now + 60 })}.${signature}`;
    const cases: Array<[string | undefined, RegExp]> = [
      [undefined, /no Bearer token/],
      ['Bearer abc', /Invalid Compact JWS/],
      [hs, /"alg" \(Algorithm\) Header Parameter value not allowed/],
      [token({}, { kid: 'k9' }), /a key not in the configuration/],
      [token({ exp: now - 300 }), /"exp" claim timestamp check failed/],
      [token({ exp: undefined }), /missing required "exp" claim/],
      [token({ aud: 'https://elsewhere.example/push' }), /unexpected "aud" claim value/],
      [token({ iss: 'https://issuer.example' }), /unexpected "iss" claim value/],
      [token({ nbf: now + 600 }), /"nbf" claim timestamp check failed/],
      [token({ iat: now + 600 }), /issued in the future/],
      [token({ email: 'other@my-project.iam.gserviceaccount.com' }), /another service account/],
      [token({ email_verified: false }), /the email is not verified/],
      [tampered, /signature verification failed/],
    ];
    for (const [authorization, reason] of cases)
      expect([authorization, await oidcRefusal(keys, authorization, noRemote, now)]).toEqual([
        authorization,
        expect.stringMatching(reason),
      ]);
  });

  test('a skew of up to a minute on exp is tolerated', async () => {
    const keys = config([jwk(pair.publicKey, 'k1')]);
    expect(await oidcRefusal(keys, token({ exp: now - 30 }), noRemote, now)).toBeNull();
  });
});
