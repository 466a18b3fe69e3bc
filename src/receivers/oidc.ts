import { KeyObject } from 'node:crypto';
import { errors, jwtVerify, JWTVerifyGetKey } from 'jose';
import { Jwks, JwksSchema, OidcConfig, publicKeyOf } from './spec';
import { HttpClient } from '../net/http';
import { OutboundPolicy } from '../net/outbound';

/**
 * OpenID Connect ID tokens as Pub/Sub push sends them (`Authorization: Bearer <JWT>`, RS256, signed by
 * Google), checked against the signer's public keys: held in the receiver's configuration (`jwks`), or
 * read from the issuer's JWKS URL (`jwksUrl`, Google's is https://www.googleapis.com/oauth2/v3/certs),
 * kept for as long as its Cache-Control says, and read again early when a token names a key not seen yet
 * (Google rotates its keys every few days). `jose` verifies the token; the keys are read here, through the
 * outbound policy, because the URL is the user's (jose's own remote JWKS would fetch it unchecked).
 */

/** Imported keys by kid, per JWKS document: a burst of pushes imports each key once. */
const imported = new WeakMap<Jwks, Map<string, KeyObject>>();
function keysOf(jwks: Jwks): Map<string, KeyObject> {
  let keys = imported.get(jwks);
  if (!keys) {
    keys = new Map();
    for (const jwk of jwks.keys) {
      const key = publicKeyOf(jwk);
      if (key) keys.set(jwk.kid ?? '', key);
    }
    imported.set(jwks, keys);
  }
  return keys;
}

/**
 * The key a token's kid names; a single key without a kid signs whatever kid the token names (a JWKS
 * written by hand often has none). jose's createLocalJWKSet would refuse that one, so the choice is ours.
 */
function keyFor(keys: Map<string, KeyObject>, kid: string): KeyObject | undefined {
  return keys.get(kid) ?? (keys.size === 1 && keys.has('') ? keys.get('') : undefined);
}

/** A JWKS URL could not be read: the notification is answered 503, and the sender retries. */
export class JwksUnavailable extends Error {}

/** How long a read JWKS is kept: its Cache-Control max-age, within these bounds. */
const JWKS_MIN_TTL_MS = 60_000;
const JWKS_MAX_TTL_MS = 24 * 3600_000;
/** Each unknown `kid` reads the URL again at most once a minute, and all of them at most 5 times a minute. */
const JWKS_REFRESH_MS = 60_000;
const JWKS_REFRESHES = 5;
const JWKS_MAX_BYTES = 64 * 1024;
/**
 * A URL that could not be read (and holds no keys read before) is not read again for this long: pushes
 * meanwhile are answered 503 at once with the same reason, instead of each waiting out the timeout.
 */
export const JWKS_FAILURE_TTL_MS = 30_000;

/**
 * JWKS documents read from their URLs through the outbound policy (timeout, size cap, no redirects to
 * refused addresses), shared by every receiver naming the same URL; concurrent reads of one URL are one.
 */
export class JwksCache {
  private readonly http: HttpClient;
  private readonly entries = new Map<string, { jwks: Jwks | null; until: number; reading?: Promise<Jwks> }>();
  /** URLs whose last read failed with no keys to fall back on: the reason, until when it stands. */
  private readonly failures = new Map<string, { reason: string; until: number }>();
  /** Per URL, the unknown kids that made it read again, and when. */
  private readonly refreshes = new Map<string, Map<string, number>>();

  constructor(policy: OutboundPolicy) {
    this.http = new HttpClient({ policy, timeoutMs: 5000, perHostConcurrency: 2 });
  }

  /** The key a token's `kid` names, reading the URL when it is not known (yet). */
  async key(url: string, kid: string): Promise<KeyObject | undefined> {
    const now = Date.now();
    const entry = this.entries.get(url);
    const fresh = entry?.jwks && entry.until > now ? entry.jwks : null;
    const known = fresh ? keyFor(keysOf(fresh), kid) : undefined;
    if (known) return known;
    const failed = this.failures.get(url);
    if (failed && failed.until > now && !entry?.jwks)
      throw new JwksUnavailable(
        `${failed.reason} (not read again for ${Math.ceil((failed.until - now) / 1000)} s)`,
      );
    if (fresh) {
      // A key not seen yet may be a rotation: read again, a bounded number of times (a sender naming
      // made-up kids cannot make this service hammer the issuer).
      const tried = this.refreshes.get(url) ?? new Map<string, number>();
      for (const [k, at] of tried) if (now - at >= JWKS_REFRESH_MS) tried.delete(k);
      if (tried.has(kid) || tried.size >= JWKS_REFRESHES) return undefined;
      tried.set(kid, now);
      if (this.refreshes.size >= 100) this.refreshes.clear();
      this.refreshes.set(url, tried);
    }
    return keyFor(keysOf(await this.read(url)), kid);
  }

  private read(url: string): Promise<Jwks> {
    const entry = this.entries.get(url);
    if (entry?.reading) return entry.reading;
    const reading = this.fetch(url).then(
      ({ jwks, ttl }) => {
        if (this.entries.size >= 100) this.entries.clear();
        this.entries.set(url, { jwks, until: Date.now() + ttl });
        this.failures.delete(url);
        return jwks;
      },
      (err: unknown) => {
        const kept = this.entries.get(url);
        if (kept) kept.reading = undefined;
        // Keys read before stay in use while the URL cannot be read (tried again in a minute): an issuer's
        // outage does not stop verified pushes.
        if (!kept?.jwks) {
          if (this.failures.size >= 100) this.failures.clear();
          this.failures.set(url, {
            reason: err instanceof Error ? err.message : String(err),
            until: Date.now() + JWKS_FAILURE_TTL_MS,
          });
          throw err;
        }
        kept.until = Math.max(kept.until, Date.now() + JWKS_MIN_TTL_MS);
        return kept.jwks;
      },
    );
    this.entries.set(url, { jwks: entry?.jwks ?? null, until: entry?.until ?? 0, reading });
    return reading;
  }

  private async fetch(url: string): Promise<{ jwks: Jwks; ttl: number }> {
    const where = new URL(url).host;
    let res;
    try {
      res = await this.http.request(url, {
        headers: { accept: 'application/json' },
        maxBytes: JWKS_MAX_BYTES,
      });
    } catch (err) {
      throw new JwksUnavailable(`the keys at ${where} could not be read: ${(err as Error).message}`);
    }
    if (res.status !== 200) throw new JwksUnavailable(`the keys at ${where} answered ${res.status}`);
    let parsed;
    try {
      parsed = JwksSchema.safeParse(JSON.parse(res.body.toString('utf8')));
    } catch {
      throw new JwksUnavailable(`the keys at ${where} are not JSON`);
    }
    if (!parsed.success) throw new JwksUnavailable(`the keys at ${where} are not a JWKS of RSA keys`);
    const maxAge = /(?:^|,)\s*max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1];
    const ttl = Math.min(JWKS_MAX_TTL_MS, Math.max(JWKS_MIN_TTL_MS, Number(maxAge ?? 3600) * 1000));
    return { jwks: parsed.data, ttl };
  }
}

/** Clock skew allowed on `exp`, `iat` and `nbf`. */
const SKEW_SECONDS = 60;
/** Google's ID tokens are about 1 KiB; far larger is not one. */
const MAX_TOKEN = 8192;

/** The token names a key that neither the configuration nor the JWKS URL holds. */
class UnknownKey extends Error {}

/**
 * Why the `Authorization` header's ID token is not one this configuration accepts, or null when it is:
 * RS256 only (never `none`, never an HMAC "signed" with a public key), a key the configuration holds, the
 * issuer, the audience, the expiry, and the service account's verified email when one is configured.
 */
export async function oidcRefusal(
  config: OidcConfig,
  authorization: string | undefined,
  remote: JwksCache,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<string | null> {
  const token = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(authorization ?? '')?.[1];
  if (!token) return 'no Bearer token';
  if (token.length > MAX_TOKEN) return 'the token is too long';
  // jose checks the algorithm before it asks for a key: a forged HS256 or `none` token reads no JWKS.
  const key: JWTVerifyGetKey = async (header) => {
    const kid = typeof header.kid === 'string' ? header.kid.slice(0, 256) : '';
    const found = config.jwks ? keyFor(keysOf(config.jwks), kid) : await remote.key(config.jwksUrl!, kid);
    if (!found) throw new UnknownKey();
    return found;
  };
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(token, key, {
      algorithms: ['RS256'],
      issuer: config.issuers,
      audience: config.audience,
      requiredClaims: ['exp'],
      clockTolerance: SKEW_SECONDS,
      currentDate: new Date(nowSeconds * 1000),
    }));
  } catch (err) {
    if (err instanceof UnknownKey) return 'signed with a key not in the configuration';
    // jose's own wording, which names the check and never a claim's value (`unexpected "aud" claim value`).
    if (err instanceof errors.JOSEError) return err.message;
    throw err; // JwksUnavailable: answered 503, and the sender retries
  }
  // jose checks iat only against a maximum age; a token from the future is refused here.
  if (typeof claims.iat === 'number' && claims.iat - SKEW_SECONDS > nowSeconds) return 'issued in the future';
  if (config.serviceAccountEmail !== undefined) {
    if (claims.email !== config.serviceAccountEmail) return 'signed for another service account';
    if (claims.email_verified !== true) return 'the email is not verified';
  }
  return null;
}
