import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand } from './commands';

const run = runCommand;

/** The real cosign: on PATH, or where `go install` puts it (.ci/run installs it there). */
export function findCosign(): string {
  cosignPath ??= locateCosign();
  return cosignPath;
}
let cosignPath: string | undefined;

function locateCosign(): string {
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (dir && existsSync(path.join(dir, 'cosign'))) return path.join(dir, 'cosign');
  const gobin = path.join(execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim(), 'bin');
  if (existsSync(path.join(gobin, 'cosign'))) return path.join(gobin, 'cosign');
  throw new Error('cosign is not installed: go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5');
}

/** A cosign key pair made by `cosign generate-key-pair` in a folder of its own, for signing in tests. */
export class CosignKey {
  private constructor(
    private readonly dir: string,
    /** The PEM public key, as a rule names it. */
    readonly publicKey: string,
  ) {}

  static async generate(): Promise<CosignKey> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-cosign-'));
    await run(findCosign(), ['generate-key-pair'], { cwd: dir, env: cosignEnv() });
    return new CosignKey(dir, readFileSync(path.join(dir, 'cosign.pub'), 'utf8'));
  }

  /**
   * Signs `host/repository@digest` as a release pipeline would, for a plain-HTTP registry on loopback and
   * without the public transparency log (the tests reach no network). `referrers` attaches the signature as
   * an OCI 1.1 referrer (`--registry-referrers-mode oci-1-1`) instead of the `.sig` tag.
   */
  async sign(
    host: string,
    repository: string,
    digest: string,
    bundle = false,
    referrers = false,
  ): Promise<void> {
    await run(
      findCosign(),
      [
        'sign',
        // A Sigstore bundle, stored as an OCI referrer (the referrers tag schema on Debian's registry).
        ...(bundle ? ['--new-bundle-format'] : []),
        ...(referrers ? ['--registry-referrers-mode', 'oci-1-1'] : []),
        '--key',
        path.join(this.dir, 'cosign.key'),
        '--tlog-upload=false',
        '--allow-insecure-registry',
        '--allow-http-registry',
        '--yes',
        `${host}/${repository}@${digest}`,
      ],
      // cosign v2.6 takes the referrers mode only as an experimental feature.
      { cwd: this.dir, env: { ...cosignEnv(), ...(referrers ? { COSIGN_EXPERIMENTAL: '1' } : {}) } },
    );
  }

  /**
   * Attaches a signed in-toto attestation of `predicate` (SLSA provenance v1 by default) to the image, as a
   * release pipeline's `cosign attest` does: the `sha256-<hex>.att` tag beside it.
   */
  async attest(
    host: string,
    repository: string,
    digest: string,
    predicate: unknown,
    bundle = false,
  ): Promise<void> {
    const file = path.join(this.dir, `predicate-${digest.slice(7, 19)}-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(predicate));
    await run(
      findCosign(),
      [
        'attest',
        '--key',
        path.join(this.dir, 'cosign.key'),
        '--type',
        'slsaprovenance1',
        ...(bundle ? ['--new-bundle-format'] : []),
        '--predicate',
        file,
        '--tlog-upload=false',
        '--allow-insecure-registry',
        '--allow-http-registry',
        '--yes',
        `${host}/${repository}@${digest}`,
      ],
      { cwd: this.dir, env: cosignEnv() },
    );
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** cosign's environment: the key's password, and no home folder of the user's (its config or cache). */
function cosignEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, COSIGN_PASSWORD: 'test-only-password', HOME: os.tmpdir() };
}
