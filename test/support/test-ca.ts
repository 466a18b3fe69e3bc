import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand } from './commands';
import { findCosign } from './cosign';

const run = runCommand;

/** The Fulcio extension holding the OIDC issuer, DER-encoded (v2, 1.3.6.1.4.1.57264.1.8). */
const FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';

const EXTENSIONS = `[req]
distinguished_name=dn
[dn]
[root]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[intermediate]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
extendedKeyUsage=codeSigning
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
`;

/**
 * A certificate authority made with openssl for a test, standing in for Fulcio: a root and an intermediate
 * (P-256), and short-lived code-signing leaves naming an identity (a SAN) and an OIDC issuer (Fulcio's
 * extension), as Fulcio issues them.
 */
export class TestCa {
  private leaves = 0;

  private constructor(
    private readonly dir: string,
    readonly name: string,
  ) {}

  static async create(name: string): Promise<TestCa> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-ca-'));
    writeFileSync(path.join(dir, 'ca.cnf'), EXTENSIONS);
    const ca = new TestCa(dir, name);
    await ca.openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'root.key');
    await ca.openssl(
      'req',
      '-new',
      '-x509',
      '-key',
      'root.key',
      '-subj',
      `/O=feed-triggers test/CN=${name} root`,
      '-days',
      '30',
      '-config',
      'ca.cnf',
      '-extensions',
      'root',
      '-out',
      'root.pem',
    );
    await ca.issue('intermediate', `/O=feed-triggers test/CN=${name} intermediate`, 'root', 'intermediate');
    return ca;
  }

  private openssl(...args: string[]) {
    return run('openssl', args, { cwd: this.dir });
  }

  /** A key and a certificate `name` for `subject`, signed by `issuer` with the extensions of `section`. */
  private async issue(name: string, subject: string, issuer: string, section: string, days = 30) {
    await this.openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
    await this.openssl(
      'req',
      '-new',
      '-key',
      `${name}.key`,
      '-subj',
      subject,
      '-config',
      'ca.cnf',
      '-out',
      `${name}.csr`,
    );
    await this.openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.pem`,
      '-CAkey',
      `${issuer}.key`,
      // A random serial of its own: -CAcreateserial keeps a serial file per issuer, which certificates issued
      // at the same time (Promise.all in the tests) read half-written.
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      String(days),
      '-extfile',
      'ca.cnf',
      '-extensions',
      section,
      '-out',
      `${name}.pem`,
    );
  }

  /**
   * The Sigstore trusted root (`trusted_root.json`) an operator would supply: the intermediate and the root,
   * and the transparency logs it trusts (`tlogs`, as TestRekor.trustedRootEntry lists one).
   */
  trustedRoot(tlogs: readonly object[] = []): string {
    const der = (file: string) =>
      new X509Certificate(readFileSync(path.join(this.dir, file))).raw.toString('base64');
    return JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs,
      certificateAuthorities: [
        {
          subject: { organization: 'feed-triggers test', commonName: this.name },
          uri: 'https://fulcio.test.invalid',
          certChain: { certificates: [{ rawBytes: der('intermediate.pem') }, { rawBytes: der('root.pem') }] },
          validFor: { start: '2020-01-01T00:00:00Z' },
        },
      ],
      ctlogs: [],
      timestampAuthorities: [],
    });
  }

  /**
   * A one-day code-signing certificate for `identity` (`email:…` or `URI:…`) from `issuer` (or one valid over
   * `validity`, as an expired one is), and its key imported for cosign: what `cosign sign --certificate` signs
   * with.
   */
  async leaf(
    identity: string,
    issuer: string,
    validity?: { readonly start: Date; readonly end: Date },
  ): Promise<CertifiedKey> {
    const name = `leaf${++this.leaves}`;
    const section = `[${name}]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=codeSigning
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=${identity}
${FULCIO_ISSUER_V2}=ASN1:UTF8String:${issuer}
`;
    writeFileSync(
      path.join(this.dir, 'ca.cnf'),
      `${readFileSync(path.join(this.dir, 'ca.cnf'), 'utf8')}${section}`,
    );
    if (validity) await this.issueDuring(name, validity.start, validity.end);
    else await this.issue(name, '/', 'intermediate', name, 1);
    await run(
      findCosign(),
      ['import-key-pair', '--key', `${name}.key`, '--output-key-prefix', `${name}-cosign`],
      {
        cwd: this.dir,
        env: cosignEnv(this.dir),
      },
    );
    writeFileSync(
      path.join(this.dir, `${name}-chain.pem`),
      Buffer.concat([
        readFileSync(path.join(this.dir, 'intermediate.pem')),
        readFileSync(path.join(this.dir, 'root.pem')),
      ]),
    );
    return new CertifiedKey(this.dir, name);
  }

  /**
   * A leaf of section `name` valid from `start` to `end` (`openssl x509` only counts days from now; `openssl ca`
   * takes dates), with a database of its own so leaves issued at once do not share a file.
   */
  private async issueDuring(name: string, start: Date, end: Date) {
    const asn1 = (d: Date) => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
    writeFileSync(path.join(this.dir, `${name}-index.txt`), '');
    writeFileSync(
      path.join(this.dir, `${name}-ca.cnf`),
      `[ca]\ndefault_ca=leaf\n[leaf]\ndatabase=${name}-index.txt\nnew_certs_dir=.\nserial=${name}.srl\ndefault_md=sha256\npolicy=any\nunique_subject=no\nemail_in_dn=no\n[any]\n`,
    );
    await this.openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
    await this.openssl(
      'req',
      '-new',
      '-key',
      `${name}.key`,
      '-subj',
      '/',
      '-config',
      'ca.cnf',
      '-out',
      `${name}.csr`,
    );
    await this.openssl(
      'ca',
      '-batch',
      '-config',
      `${name}-ca.cnf`,
      '-in',
      `${name}.csr`,
      '-cert',
      'intermediate.pem',
      '-keyfile',
      'intermediate.key',
      '-startdate',
      asn1(start),
      '-enddate',
      asn1(end),
      '-rand_serial',
      '-notext',
      '-subj',
      '/',
      '-extfile',
      'ca.cnf',
      '-extensions',
      name,
      '-out',
      `${name}.pem`,
    );
  }

  /** When the intermediate became valid: the earliest a leaf can be valid from (cosign checks its chain then). */
  get validFrom(): Date {
    return new Date(new X509Certificate(readFileSync(path.join(this.dir, 'intermediate.pem'))).validFrom);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A leaf certificate's key, as cosign signs and attests with it (`--key … --certificate … --certificate-chain …`). */
export class CertifiedKey {
  constructor(
    private readonly dir: string,
    private readonly name: string,
  ) {}

  get certificate(): string {
    return readFileSync(path.join(this.dir, `${this.name}.pem`), 'utf8');
  }

  /** The leaf's private key (PEM), for benches that write cosign's layout with Node's crypto. */
  get privateKey(): string {
    return readFileSync(path.join(this.dir, `${this.name}.key`), 'utf8');
  }

  /** Signs without a transparency log, or uploads to the one at `rekorUrl` (a TestRekor). */
  rekorUrl: string | null = null;

  private flags(): string[] {
    return [
      '--key',
      path.join(this.dir, `${this.name}-cosign.key`),
      '--certificate',
      path.join(this.dir, `${this.name}.pem`),
      '--certificate-chain',
      path.join(this.dir, `${this.name}-chain.pem`),
      ...(this.rekorUrl ? ['--rekor-url', this.rekorUrl, '--tlog-upload=true'] : ['--tlog-upload=false']),
      '--allow-insecure-registry',
      '--allow-http-registry',
      '--yes',
    ];
  }

  /** `cosign sign` with the certificate, without the public transparency log (the tests reach no network). */
  async sign(host: string, repository: string, digest: string): Promise<void> {
    await run(findCosign(), ['sign', ...this.flags(), `${host}/${repository}@${digest}`], {
      cwd: this.dir,
      env: cosignEnv(this.dir),
    });
  }

  /** `cosign attest` of SLSA provenance v1 with the certificate. */
  async attest(host: string, repository: string, digest: string, predicate: unknown): Promise<void> {
    const file = path.join(this.dir, `predicate-${digest.slice(7, 19)}.json`);
    writeFileSync(file, JSON.stringify(predicate));
    await run(
      findCosign(),
      [
        'attest',
        ...this.flags(),
        '--type',
        'slsaprovenance1',
        '--predicate',
        file,
        `${host}/${repository}@${digest}`,
      ],
      { cwd: this.dir, env: cosignEnv(this.dir) },
    );
  }
}

function cosignEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, COSIGN_PASSWORD: 'test-only-password', HOME: home };
}
