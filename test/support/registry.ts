import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface RegistryOptions {
  /** htpasswd lines (`user:bcrypt`) to require Basic auth. */
  readonly htpasswd?: string;
  /** Extra YAML under `auth:` (e.g. token auth). */
  readonly authYaml?: string;
}

/** Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1, with its own storage folder. */
export class TestRegistry {
  private constructor(
    readonly port: number,
    private readonly proc: ChildProcess,
    private readonly dir: string,
  ) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  static async start(options: RegistryOptions = {}): Promise<TestRegistry> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-registry-'));
    const port = await freePort();
    let auth = '';
    if (options.htpasswd) {
      writeFileSync(path.join(dir, 'htpasswd'), options.htpasswd);
      auth = `auth:\n  htpasswd:\n    realm: feed-triggers-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
    } else if (options.authYaml) {
      auth = `auth:\n${options.authYaml}`;
    }
    const config = [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      auth,
    ].join('\n');
    writeFileSync(path.join(dir, 'config.yml'), config);
    const proc = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const registry = new TestRegistry(port, proc, dir);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
      try {
        const res = await fetch(`${registry.url}/v2/`);
        if (res.status === 200 || res.status === 401) return registry;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      this.proc.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export type ManifestKind = 'oci' | 'docker';

export interface PushOptions {
  readonly kind?: ManifestKind;
  readonly authorization?: string;
  /** Config media type, e.g. Helm's `application/vnd.cncf.helm.config.v1+json`. */
  readonly configMediaType?: string;
  readonly config?: object;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Pushes a small image with plain HTTP (upload, blob PUT with digest, manifest PUT); returns its digest. */
export async function pushImage(
  registryUrl: string,
  repository: string,
  tag: string,
  options: PushOptions = {},
): Promise<string> {
  const kind = options.kind ?? 'oci';
  const auth: Record<string, string> = options.authorization ? { authorization: options.authorization } : {};
  const config = Buffer.from(
    JSON.stringify(
      options.config ?? {
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: { tag } },
        rootfs: { type: 'layers', diff_ids: [] },
      },
    ),
  );
  const layer = randomBytes(64);
  const upload = async (blob: Buffer): Promise<string> => {
    const digest = sha256(blob);
    const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, {
      method: 'POST',
      headers: auth,
    });
    if (start.status !== 202) throw new Error(`blob upload start: ${start.status} ${await start.text()}`);
    const location = new URL(start.headers.get('location')!, registryUrl);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: blob,
    });
    if (put.status !== 201) throw new Error(`blob upload: ${put.status} ${await put.text()}`);
    return digest;
  };
  const configDigest = await upload(config);
  const layerDigest = await upload(layer);
  const manifestType =
    kind === 'oci'
      ? 'application/vnd.oci.image.manifest.v1+json'
      : 'application/vnd.docker.distribution.manifest.v2+json';
  const configType =
    options.configMediaType ??
    (kind === 'oci'
      ? 'application/vnd.oci.image.config.v1+json'
      : 'application/vnd.docker.container.image.v1+json');
  const layerType =
    kind === 'oci'
      ? 'application/vnd.oci.image.layer.v1.tar+gzip'
      : 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestType,
      config: { mediaType: configType, digest: configDigest, size: config.length },
      layers: [{ mediaType: layerType, digest: layerDigest, size: layer.length }],
    }),
  );
  const res = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': manifestType },
    body: manifest,
  });
  if (res.status !== 201) throw new Error(`manifest push: ${res.status} ${await res.text()}`);
  return sha256(manifest);
}
