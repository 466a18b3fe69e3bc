import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { RecordedRequest, sendJson, startServer, TestServer } from './http-server';

/** What a token endpoint does with a request: a token for a grant, or a refusal. */
export type TokenDecision =
  { token: string; expiresIn?: number; field?: 'token' | 'access_token' | 'both' } | { status: number };

export interface RegistryProfile {
  /** The `WWW-Authenticate` challenge, given the server's base URL. */
  challenge(base: string): string;
  /** Path of the token endpoint on the same server, if the registry uses Bearer tokens. */
  readonly tokenPath?: string;
  /** Decides a token request (GET query or POST form). */
  token?(req: RecordedRequest, params: URLSearchParams): TokenDecision;
  /** Whether an API request's Authorization header is acceptable. */
  authorized(authorization: string | undefined): boolean;
  /** Extra routes (ACR's /oauth2/exchange). */
  route?(req: RecordedRequest, res: http.ServerResponse): boolean;
  /** Headers added to tag listings (Docker Hub's rate limit). */
  readonly listingHeaders?: Record<string, string>;
}

/**
 * A local server speaking one registry's auth exchange (challenge, token endpoint, credential forms)
 * in front of a small in-memory tag list, for registries that cannot run here.
 */
export class FakeRegistry {
  readonly issued = new Set<string>();

  private constructor(
    readonly server: TestServer,
    readonly tags: Map<string, string[]>,
  ) {}

  static async start(profile: RegistryProfile, tags: Record<string, string[]>): Promise<FakeRegistry> {
    // eslint-disable-next-line prefer-const -- the handler refers to it; assigned once the server runs
    let self: FakeRegistry | undefined;
    const server = await startServer((req, res) => {
      const url = new URL(req.url, 'http://x');
      if (profile.route?.(req, res)) return;
      if (profile.tokenPath && url.pathname === profile.tokenPath) {
        const params = req.method === 'POST' ? new URLSearchParams(req.body) : url.searchParams;
        const decision = profile.token!(req, params);
        if ('status' in decision) return sendJson(res, decision.status, { error: 'refused' });
        self!.issued.add(decision.token);
        const body: Record<string, unknown> = { expires_in: decision.expiresIn ?? 300 };
        if (decision.field !== 'access_token') body.token = decision.token;
        if (decision.field !== 'token') body.access_token = decision.token;
        return sendJson(res, 200, body);
      }
      if (!profile.authorized(req.headers.authorization)) {
        return sendJson(
          res,
          401,
          { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
          {
            'www-authenticate': profile.challenge(server.url),
          },
        );
      }
      const m = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
      if (m) {
        const list = self!.tags.get(m[1]);
        if (!list)
          return sendJson(res, 404, {
            errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }],
          });
        return sendJson(res, 200, { name: m[1], tags: list }, profile.listingHeaders ?? {});
      }
      sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no route' }] });
    });
    self = new FakeRegistry(server, new Map(Object.entries(tags)));
    return self;
  }

  /** A fresh opaque token, remembered as issued. */
  mint(): string {
    const token = `tok-${randomUUID()}`;
    this.issued.add(token);
    return token;
  }

  requestsTo(path: string): RecordedRequest[] {
    return this.server.requests.filter((r) => new URL(r.url, 'http://x').pathname === path);
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

/** Decodes a Basic Authorization header into user and password. */
export function decodeBasic(header: string | undefined): { user: string; password: string } | null {
  if (!header?.startsWith('Basic ')) return null;
  const text = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon === -1 ? null : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
