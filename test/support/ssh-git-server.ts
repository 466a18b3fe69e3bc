import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { git, seedBareRepo } from './git-server';

/**
 * A real Git server over SSH on 127.0.0.1: OpenSSH's sshd on a free port, with a host key and one
 * authorized client key of its own, serving bare repositories from a temporary folder.
 */
export interface SshGitServer {
  /** `ssh://<user>@127.0.0.1:<port>/<folder>`: a repository's URL is this plus `/<name>.git`. */
  readonly base: string;
  /** The client's private key (OpenSSH format). */
  readonly clientKey: string;
  /** The host's known_hosts line. */
  readonly knownHosts: string;
  /** Where the bare repositories live (to read them back). */
  readonly root: string;
  /** Creates a bare repository `name` whose `main` holds `files` (locally, no network); answers its URL. */
  createRepo(name: string, files: Record<string, string>): string;
  /** Runs git on a repository's bare folder (`show`, `log`). */
  git(name: string, ...args: string[]): string;
  close(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startSshGitServer(): Promise<SshGitServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-sshd-'));
  const root = path.join(dir, 'repos');
  mkdirSync(root);
  const keygen = (file: string) =>
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'feed-triggers-test', '-f', file]);
  keygen(path.join(dir, 'host'));
  keygen(path.join(dir, 'client'));
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(path.join(dir, 'client.pub')), {
    mode: 0o600,
  });
  // Privilege separation needs this folder when sshd runs as root (Debian creates it only for its service).
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${path.join(dir, 'host')}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    'StrictModes no',
    'AllowTcpForwarding no',
    'X11Forwarding no',
    'PrintMotd no',
  ].join('\n');
  writeFileSync(path.join(dir, 'sshd_config'), `${config}\n`);
  const sshd: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  sshd.stderr?.on('data', (c: Buffer) => (log += c.toString('utf8')));
  try {
    await waitForPort(port);
  } catch (err) {
    sshd.kill();
    throw new Error(`${(err as Error).message}: ${log.slice(0, 500)}`);
  }
  const user = os.userInfo().username;
  const hostKey = readFileSync(path.join(dir, 'host.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const bare = (name: string) => path.join(root, `${name}.git`);
  const base = `ssh://${user}@127.0.0.1:${port}${root}`;
  return {
    base,
    createRepo(name, files) {
      seedBareRepo(bare(name), files);
      return `${base}/${name}.git`;
    },
    git: (name, ...args) => git(bare(name), ...args),
    clientKey: readFileSync(path.join(dir, 'client'), 'utf8'),
    knownHosts: `[127.0.0.1]:${port} ${hostKey}`,
    root,
    close: async () => {
      sshd.kill();
      await new Promise((r) => (sshd.exitCode !== null ? r(null) : sshd.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
