import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sendJson, startServer, TestServer } from './http-server';

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * A Docker token server (distribution's token auth spec) that signs ES256 JWTs with a key whose
 * self-signed certificate the registry trusts; users are checked by Basic credentials.
 */
export class TokenServer {
  private constructor(
    readonly server: TestServer,
    readonly certFile: string,
    private readonly keyPem: string,
    private readonly certDer: Buffer,
    readonly service: string,
    readonly issuer: string,
  ) {}

  static async start(
    users: Record<string, string>,
    service = 'feed-triggers-test',
    issuer = 'feed-triggers-test-issuer',
  ): Promise<TokenServer> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-token-'));
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
    execFileSync('openssl', [
      'req',
      '-new',
      '-x509',
      '-key',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=feed-triggers-test-token',
    ]);
    const keyPem = readFileSync(keyFile, 'utf8');
    const certDer = new X509Certificate(readFileSync(certFile)).raw;
    // eslint-disable-next-line prefer-const -- the handler refers to it; assigned once the server runs
    let self: TokenServer | undefined;
    const server = await startServer((req, res) => {
      const url = new URL(req.url, 'http://x');
      if (url.pathname !== '/token') return sendJson(res, 404, { errors: [{ code: 'NOT_FOUND' }] });
      const auth = req.headers.authorization ?? '';
      let account = '';
      if (auth.startsWith('Basic ')) {
        const [user, ...rest] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
        if (users[user] === undefined || users[user] !== rest.join(':'))
          return sendJson(res, 401, { details: 'invalid credentials' });
        account = user;
      }
      if (!account) return sendJson(res, 401, { details: 'credentials required' });
      const scope = url.searchParams.get('scope') ?? '';
      const [, name, actions] = scope.split(':');
      const token = self!.issue(account, name ?? '', (actions ?? '').split(',').filter(Boolean));
      sendJson(res, 200, {
        token,
        access_token: token,
        expires_in: 300,
        issued_at: new Date().toISOString(),
      });
    });
    self = new TokenServer(server, certFile, keyPem, certDer, service, issuer);
    return self;
  }

  /** The registry's `auth:` YAML for this token server. */
  get registryAuthYaml(): string {
    return [
      '  token:',
      `    realm: ${this.server.url}/token`,
      `    service: ${this.service}`,
      `    issuer: ${this.issuer}`,
      `    rootcertbundle: ${this.certFile}`,
      '',
    ].join('\n');
  }

  /** Mints a token directly (tests use it to push). */
  issue(subject: string, repository: string, actions: string[]): string {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [this.certDer.toString('base64')] };
    const claims = {
      iss: this.issuer,
      sub: subject,
      aud: this.service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access: repository ? [{ type: 'repository', name: repository, actions }] : [],
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), {
      key: createPrivateKey(this.keyPem),
      dsaEncoding: 'ieee-p1363',
    });
    return `${input}.${b64url(signature)}`;
  }

  /** Token requests answered so far. */
  get tokenRequests(): number {
    return this.server.requests.filter((r) => r.url.startsWith('/token')).length;
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
