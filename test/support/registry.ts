import { ChildProcess, spawn } from 'node:child_process';
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
  /** Send push notifications to this URL, with this Bearer token. */
  readonly notify?: { readonly url: string; readonly token: string };
}

/** Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1, with its own storage folder. */
export class TestRegistry {
  /** The tail of the running process's stderr. */
  private stderr = '';
  /** Set while `halt` stops the process: that exit is asked for. */
  private halting = false;
  /** Restarts after exits nobody asked for (bounded: a registry that cannot start is not retried forever). */
  private unaskedRestarts = 0;

  private constructor(
    readonly port: number,
    private proc: ChildProcess,
    private readonly dir: string,
  ) {
    this.watch();
  }

  /**
   * Follows the running process: its stderr, and an exit nobody asked for. A registry that went away in the
   * middle of a file once failed a CI run with no trace (every later read refused); now such an exit is
   * reported with the registry's last words and its code or signal, and the registry serves again on its
   * port and storage, so the file's other tests still prove what they are about.
   */
  private watch(): void {
    const proc = this.proc;
    this.stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    proc.once('exit', (code, signal) => {
      if (this.halting || proc !== this.proc) return;
      const restart = this.unaskedRestarts++ < 3;
      console.warn(
        `docker-registry on ${this.url} exited unasked (${signal ?? `code ${code}`})` +
          `${restart ? '; starting it again' : ''}. Its stderr: ${this.stderr.trim() || '(empty)'}`,
      );
      if (!restart) return;
      this.proc = TestRegistry.spawn(this.dir);
      this.watch();
    });
  }

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
      ...(options.notify
        ? [
            'notifications:',
            '  endpoints:',
            '    - name: feed-triggers',
            `      url: ${options.notify.url}`,
            '      headers:',
            `        Authorization: [Bearer ${options.notify.token}]`,
            '      timeout: 2s',
            '      threshold: 3',
            '      backoff: 1s',
          ]
        : []),
    ].join('\n');
    writeFileSync(path.join(dir, 'config.yml'), config);
    const registry = new TestRegistry(port, TestRegistry.spawn(dir), dir);
    await registry.ready();
    return registry;
  }

  private static spawn(dir: string): ChildProcess {
    return spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }

  /** Waits until the registry answers `/v2/`. */
  private async ready(): Promise<void> {
    const proc = this.proc;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${this.stderr}`);
      try {
        const res = await fetch(`${this.url}/v2/`);
        if (res.status === 200 || res.status === 401) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops the registry process (an outage), keeping its port, configuration and storage for `restart`. */
  async halt(): Promise<void> {
    // A process ended by a signal has a signalCode and no exitCode.
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.halting = true;
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      this.proc.kill('SIGTERM');
      await exited;
      this.halting = false;
    }
  }

  /** Starts the halted registry again on the same port with the same storage; resolves once it answers. */
  async restart(): Promise<void> {
    await this.halt();
    this.proc = TestRegistry.spawn(this.dir);
    this.watch();
    await this.ready();
  }

  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export { pushImage } from './push-image';
export type { ManifestKind, PushOptions } from './push-image';
