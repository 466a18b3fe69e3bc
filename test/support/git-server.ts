import { execFileSync } from 'node:child_process';
import { execCommand } from '../../src/runtime/exec-helper';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A real Git server on 127.0.0.1: bare repositories served over smart HTTP by `git http-backend` (CGI)
 * behind a small Node server, which asks for a Basic token when given one.
 */
export interface GitServer {
  readonly url: string;
  /** Creates a bare repository `name` whose `main` holds `files`; answers its URL. */
  createRepo(name: string, files: Record<string, SeedEntry>): string;
  /** The content of `file` at the tip of `branch`. */
  show(name: string, file: string, branch?: string): string;
  /** Commit subjects on `branch`, newest first. */
  log(name: string, branch?: string): string[];
  /** Commits a change to the repository directly (another writer moving the branch). */
  commit(name: string, file: string, content: string, message: string): void;
  /** Makes the repository refuse every push (a pre-receive hook printing `reason`), as a protected branch does. */
  refusePushes(name: string, reason: string): void;
  /** Stops listening and drops every connection (an outage: connections refused), keeping the repositories. */
  halt(): Promise<void>;
  /** Listens again on the same port after `halt`. */
  resume(): Promise<void>;
  close(): Promise<void>;
}

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'seed',
  GIT_AUTHOR_EMAIL: 'seed@example.com',
  GIT_COMMITTER_NAME: 'seed',
  GIT_COMMITTER_EMAIL: 'seed@example.com',
};

/** Runs git on this machine (no network to the test's own servers: they share this event loop). */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' });
}

/** What a seeded path holds: a file's text, a symbolic link to `symlink`, or a submodule at a commit. */
export type SeedEntry = string | { readonly symlink: string } | { readonly submodule: string };

/** A path as fast-import takes any name a test gives: C-style quoted. */
const quotedPath = (p: string) => `"${p.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/**
 * Creates the bare repository `bare` whose `main` holds `files`, on disk: two git commands (init, and
 * fast-import writing the blobs, trees and commit at once), not a clone, add, commit and push.
 */
export function seedBareRepo(bare: string, files: Record<string, SeedEntry>): void {
  git(path.dirname(bare), 'init', '-q', '--bare', '-b', 'main', bare);
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  let stream = `commit refs/heads/main\ncommitter seed <seed@example.com> 1700000000 +0000\n${data('seed')}`;
  for (const [file, content] of Object.entries(files)) {
    if (typeof content === 'string') stream += `M 100644 inline ${quotedPath(file)}\n${data(content)}`;
    else if ('symlink' in content) stream += `M 120000 inline ${quotedPath(file)}\n${data(content.symlink)}`;
    else stream += `M 160000 ${content.submodule} ${quotedPath(file)}\n`;
  }
  stream += 'done\n';
  execFileSync('git', ['fast-import', '--quiet', '--done'], {
    cwd: bare,
    env: GIT_ENV,
    input: stream,
  });
}

export async function startGitServer(
  options: {
    token?: string;
    port?: number;
    /** Runs before a push is taken (e.g. another writer moving the branch first). */
    beforePush?: () => void;
  } = {},
): Promise<GitServer> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-git-server-'));
  const server = http.createServer((req, res) => {
    if (options.token) {
      const expected = `Basic ${Buffer.from(`x-access-token:${options.token}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' });
        return void res.end('authentication required');
      }
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'POST' && url.pathname.endsWith('/git-receive-pack')) options.beforePush?.();
    // Run from the small helper process (src/runtime/exec-helper.ts), not forked from this jest worker.
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => body.push(chunk));
    req.on('end', () => {
      execCommand('git', ['http-backend'], {
        cwd: root,
        env: {
          ...GIT_ENV,
          GIT_PROJECT_ROOT: root,
          GIT_HTTP_EXPORT_ALL: '1',
          // Every repository takes pushes (http-backend refuses them by default without a user).
          GIT_CONFIG_COUNT: '1',
          GIT_CONFIG_KEY_0: 'http.receivepack',
          GIT_CONFIG_VALUE_0: 'true',
          PATH_INFO: decodeURIComponent(url.pathname),
          QUERY_STRING: url.search.slice(1),
          REQUEST_METHOD: req.method ?? 'GET',
          CONTENT_TYPE: req.headers['content-type'] ?? '',
          REMOTE_USER: 'feed-triggers',
          REMOTE_ADDR: '127.0.0.1',
          ...(req.headers['content-encoding']
            ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] }
            : {}),
          ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
        },
        input: Buffer.concat(body),
        timeoutMs: 60_000,
        maxBuffer: 64 * 1024 * 1024,
      }).then(
        ({ stdout }) => {
          const end = stdout.indexOf('\r\n\r\n');
          if (end < 0) return void res.writeHead(500).end();
          let status = 200;
          const headers: Record<string, string> = {};
          for (const line of stdout.subarray(0, end).toString('utf8').split('\r\n')) {
            const i = line.indexOf(':');
            const key = line.slice(0, i).trim();
            const value = line.slice(i + 1).trim();
            if (key.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
            else headers[key] = value;
          }
          res.writeHead(status, headers);
          res.end(stdout.subarray(end + 4));
        },
        () => void res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const bare = (name: string) => path.join(root, `${name}.git`);

  return {
    url,
    createRepo(name, files) {
      seedBareRepo(bare(name), files);
      return `${url}/${name}.git`;
    },
    show: (name, file, branch = 'main') => git(bare(name), 'show', `${branch}:${file}`),
    log: (name, branch = 'main') => git(bare(name), 'log', '--format=%s', branch).trim().split('\n'),
    commit(name, file, content, message) {
      // One fast-import on the bare repository: a commit on top of main that changes `file`.
      const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
      const now = Math.floor(Date.now() / 1000);
      execFileSync('git', ['fast-import', '--quiet', '--done'], {
        cwd: bare(name),
        env: GIT_ENV,
        input:
          `commit refs/heads/main\ncommitter seed <seed@example.com> ${now} +0000\n${data(message)}` +
          `from refs/heads/main^0\nM 100644 inline ${quotedPath(file)}\n${data(content)}done\n`,
      });
    },
    refusePushes(name, reason) {
      const hook = path.join(bare(name), 'hooks', 'pre-receive');
      writeFileSync(hook, `#!/bin/sh\necho ${JSON.stringify(reason)} >&2\nexit 1\n`, { mode: 0o755 });
    },
    halt: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    resume: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(Number(new URL(url).port), '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        // Called with ERR_SERVER_NOT_RUNNING after `halt`: the folder goes all the same.
        server.close(() => {
          rmSync(root, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
