import { asFeedError, FeedError } from './errors';
import { Feed } from './feed';
import { HttpClient } from '../net/http';
import { AcrExchangeSchema, parseAnswer } from './answers';

export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

/** The `Authorization` value for Basic credentials. */
export function basicAuthorization(c: BasicCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** Asks ECR for an authorization token; injectable so tests can point the AWS SDK at a local ECR. */
export type EcrTokenSource = (
  auth: Extract<Feed['auth'], { kind: 'ecr' }>,
) => Promise<{ token: string; expiresAt: Date }>;

/**
 * The AWS SDK's GetAuthorizationToken, with static keys when configured, else the default chain. The SDK
 * (~20 modules, ~17 MB on disk) is loaded on the first ECR feed's poll: most installations have none.
 */
export const awsEcrTokenSource: EcrTokenSource = async (auth) => {
  const { ECRClient, GetAuthorizationTokenCommand } = await import('@aws-sdk/client-ecr');
  const client = new ECRClient({
    region: auth.region,
    endpoint: auth.endpoint ?? undefined,
    credentials:
      auth.accessKeyId && auth.secretAccessKey
        ? { accessKeyId: auth.accessKeyId, secretAccessKey: auth.secretAccessKey }
        : undefined,
    maxAttempts: 2,
  });
  try {
    const out = await client.send(new GetAuthorizationTokenCommand({}));
    const data = out.authorizationData?.[0];
    if (!data?.authorizationToken || !data.expiresAt)
      throw new FeedError('BAD_RESPONSE', 'ECR answered GetAuthorizationToken without a token');
    return { token: data.authorizationToken, expiresAt: data.expiresAt };
  } catch (err) {
    if (err instanceof FeedError) throw err;
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode ?? 0;
    if (
      status === 401 ||
      status === 403 ||
      /AccessDenied|UnrecognizedClient|InvalidSignature|ExpiredToken/.test(e.name ?? '')
    ) {
      throw new FeedError(
        'DENIED',
        `ECR refused GetAuthorizationToken (${e.name ?? status})`,
        null,
        status || null,
      );
    }
    throw new FeedError(
      'SERVER_ERROR',
      `ECR GetAuthorizationToken failed (${e.name ?? 'error'})`,
      null,
      status || null,
    );
  } finally {
    client.destroy();
  }
};

/** ECR tokens last 12 hours; renew an hour early so a poll never carries an expiring one. */
const ECR_RENEW_BEFORE_MS = 60 * 60 * 1000;
/** ACR refresh tokens last about three hours; exchange again after one. */
const ACR_REFRESH_TTL_MS = 60 * 60 * 1000;

/**
 * Resolves a feed's credentials for the registry's auth exchange: Basic credentials, or a refresh token.
 * Derived credentials (ECR tokens, ACR refresh tokens) are cached per feed until shortly before they expire.
 */
export class CredentialStore {
  private readonly derived = new Map<string, { value: BasicCredentials | string; until: number }>();

  constructor(
    private readonly http: HttpClient,
    private readonly ecrToken: EcrTokenSource = awsEcrTokenSource,
    private readonly now: () => number = Date.now,
  ) {}

  /** Basic credentials for the feed, or null when it has none. */
  async basic(feed: Feed): Promise<BasicCredentials | null> {
    const auth = feed.auth;
    if (auth.kind === 'basic') return { username: auth.username, password: auth.password };
    if (auth.kind !== 'ecr') return null;
    const cached = this.derived.get(feed.id);
    if (cached && cached.until > this.now() && typeof cached.value !== 'string') return cached.value;
    const { token, expiresAt } = await this.ecrToken(auth);
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1)
      throw new FeedError('BAD_RESPONSE', `ECR gave feed ${feed.id} a token that is not user:password`);
    const value = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    this.derived.set(feed.id, { value, until: expiresAt.getTime() - ECR_RENEW_BEFORE_MS });
    return value;
  }

  /** An OAuth2 refresh token for the feed, or null. */
  async refreshToken(feed: Feed): Promise<string | null> {
    const auth = feed.auth;
    if (auth.kind === 'refresh-token') return auth.refreshToken;
    if (auth.kind !== 'acr-exchange') return null;
    const cached = this.derived.get(feed.id);
    if (cached && cached.until > this.now() && typeof cached.value === 'string') return cached.value;
    const url = new URL('/oauth2/exchange', feed.url);
    const form = new URLSearchParams({
      grant_type: 'access_token',
      service: url.host,
      access_token: auth.accessToken,
    });
    if (auth.tenant) form.set('tenant', auth.tenant);
    const res = await this.http
      .request(url.href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        maxBytes: 1024 * 1024,
      })
      .catch(asFeedError);
    if (res.status === 401 || res.status === 403) {
      throw new FeedError(
        'UNAUTHORIZED',
        `the registry of feed ${feed.id} refused the Entra ID access token (${res.status})`,
        null,
        res.status,
      );
    }
    if (res.status < 200 || res.status >= 300) {
      throw new FeedError(
        res.status >= 500 ? 'SERVER_ERROR' : 'BAD_RESPONSE',
        `ACR token exchange for feed ${feed.id} answered ${res.status}`,
      );
    }
    const body = parseAnswer(res.body, AcrExchangeSchema, `the ACR token exchange for feed ${feed.id}`);
    this.derived.set(feed.id, { value: body.refresh_token, until: this.now() + ACR_REFRESH_TTL_MS });
    return body.refresh_token;
  }

  /** Drops derived credentials after the registry refused them, so the next attempt fetches new ones. */
  forget(feed: Feed): void {
    this.derived.delete(feed.id);
  }
}
