import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isMap, isSeq, parseDocument, YAMLMap } from 'yaml';
import { checkOutboundUrl, OutboundPolicy, OutboundRefusedError, refusedAddress } from './feeds/outbound';

/** One file to write: where the version goes and which version. */
export interface GitFileEdit {
  readonly path: string;
  readonly format: 'kustomize' | 'yaml';
  /** kustomize: the `images:` entry's name. */
  readonly image?: string;
  /** yaml: the dotted path of the value. */
  readonly field?: string;
  /** kustomize: `newTag` or `digest`; yaml: the value. */
  readonly use: 'tag' | 'digest';
  readonly tag: string;
  readonly digest: string | null;
}

export interface GitWriteRequest {
  readonly url: string;
  readonly branch: string;
  readonly files: readonly GitFileEdit[];
  readonly author: { readonly name: string; readonly email: string };
  readonly message: string;
  /** An HTTPS token, sent in a header (never in the URL or on a command line). */
  readonly token?: string;
  /** For ssh:// remotes: the private key, and the server's pinned host key lines. */
  readonly ssh?: { readonly key: string; readonly knownHosts: string };
  readonly policy: OutboundPolicy;
  /** Pushes tried when the remote moved between fetch and push (each refetches and rewrites). */
  readonly attempts?: number;
}

export interface GitWriteResult {
  /** The pushed commit, or null when every file already held the version (no empty commit). */
  readonly commit: string | null;
  readonly pushAttempts: number;
}

/** A refusal retrying cannot fix: a bad file, a missing branch, a refused URL. */
export class GitPermanentError extends Error {}
/** The remote is unreachable or answered an error that may pass. */
export class GitUnavailableError extends Error {}

const MAX_FILE_BYTES = 1024 * 1024;

/**
 * GitOps write-back with the real `git`: fetch the branch (depth 1), write the versions into the files,
 * commit only when something changed, push; when the remote moved meanwhile, fetch again and redo the
 * edits on the new head (a rebase of our own change), a few times. The token goes in an HTTP header set
 * through git's environment; git's own configuration files, prompts, redirects and every protocol but
 * HTTP(S) are off.
 */
export async function writeBack(req: GitWriteRequest): Promise<GitWriteResult> {
  await checkRemote(req.url, req.policy);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'feed-triggers-git-'));
  const ssh = req.url.startsWith('ssh://');
  if (ssh) {
    if (!req.ssh) throw new GitPermanentError('an ssh:// repository needs a key and its known hosts');
    // Only this key, only the pinned host key, no agent, no config files, no prompts.
    await writeFile(path.join(dir, 'key'), req.ssh.key.endsWith('\n') ? req.ssh.key : `${req.ssh.key}\n`, {
      mode: 0o600,
    });
    await writeFile(path.join(dir, 'known_hosts'), `${req.ssh.knownHosts.trim()}\n`, { mode: 0o600 });
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    GIT_AUTHOR_NAME: req.author.name,
    GIT_AUTHOR_EMAIL: req.author.email,
    GIT_COMMITTER_NAME: req.author.name,
    GIT_COMMITTER_EMAIL: req.author.email,
    GIT_PROTOCOL_FROM_USER: '0',
    GIT_ALLOW_PROTOCOL: ssh ? 'ssh' : 'http:https',
    ...(ssh
      ? {
          GIT_SSH_VARIANT: 'ssh',
          GIT_SSH_COMMAND: [
            'ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none',
            `-o StrictHostKeyChecking=yes -o UserKnownHostsFile=${path.join(dir, 'known_hosts')}`,
            `-o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=30 -i ${path.join(dir, 'key')}`,
          ].join(' '),
        }
      : {}),
    ...(req.token
      ? {
          GIT_CONFIG_COUNT: '1',
          GIT_CONFIG_KEY_0: 'http.extraHeader',
          GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x-access-token:${req.token}`).toString('base64')}`,
        }
      : {}),
  };
  const work = path.join(dir, 'work');
  const git = (command: string, ...args: string[]) =>
    run(command, ['-c', 'http.followRedirects=false', command, ...args], work, env, req.url);
  try {
    await mkdir(work);
    await git('init', '-q');
    const attempts = req.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      await git(
        'fetch',
        '-q',
        '--depth=1',
        '--no-tags',
        req.url,
        `+refs/heads/${req.branch}:refs/remotes/origin/${req.branch}`,
      );
      await git('checkout', '-q', '-f', '-B', 'work', `refs/remotes/origin/${req.branch}`);
      await git('clean', '-q', '-f', '-d', '-x');
      let changed = false;
      for (const file of req.files) changed = (await edit(work, file)) || changed;
      if (!changed) return { commit: null, pushAttempts: attempt - 1 };
      await git('add', '--', ...req.files.map((f) => f.path));
      await git('commit', '-q', '--no-verify', '-m', req.message);
      try {
        await git('push', '-q', '--no-verify', req.url, `HEAD:refs/heads/${req.branch}`);
      } catch (err) {
        const moved = /\[rejected\]|fetch first|non-fast-forward|failed to update ref|stale info/i.test(
          (err as Error).message,
        );
        if (moved && attempt < attempts) continue;
        throw err;
      }
      const commit = (await git('rev-parse', 'HEAD')).trim();
      return { commit, pushAttempts: attempt };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The remote's URL passes the outbound policy, and so does every address its host resolves to now. */
async function checkRemote(url: string, policy: OutboundPolicy): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GitPermanentError(`not a URL: ${url.slice(0, 100)}`);
  }
  try {
    // An ssh:// remote's host is checked as an HTTP one's would be.
    checkOutboundUrl(parsed.protocol === 'ssh:' ? new URL(`http://${parsed.host}/`) : parsed, policy);
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    if (!isIP(host)) {
      const trusted = policy.trustedHosts?.has(host.toLowerCase()) ?? false;
      for (const a of await lookup(host, { all: true })) {
        const reason = refusedAddress(a.address, policy, trusted);
        if (reason) throw new OutboundRefusedError(`${host} is refused: ${reason}`);
      }
    }
  } catch (err) {
    if (err instanceof OutboundRefusedError) throw new GitPermanentError(err.message);
    throw new GitUnavailableError(`${parsed.host}: ${(err as Error).message}`);
  }
}

function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  url: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, env, timeout: 120_000, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        // The line that says why, when ssh or git gives one; otherwise git's own lines without its generic
        // advice (which would push the cause out of the excerpt).
        const lines = `${stderr}`
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '' && !/correct access rights|and the repository exists/.test(l));
        const cause = lines.find((l) =>
          /Host key verification failed|Permission denied|couldn't find remote ref|Authentication failed/i.test(
            l,
          ),
        );
        const text = (
          cause?.startsWith('Host key verification failed')
            ? `${cause} (the server's key is not the one pinned in knownHosts)`
            : (cause ?? lines.join(' '))
        ).slice(0, 500);
        const where = (() => {
          try {
            const u = new URL(url);
            return `${u.host}${u.pathname}`;
          } catch {
            return 'the repository';
          }
        })();
        const message = `git ${command} on ${where}: ${text || err.message}`;
        // Refusals no retry fixes: a missing branch or repository, credentials refused (git then asks
        // for a user name, which it may not), or a push the server's rules refuse (a hook, a protected branch).
        const permanent =
          /couldn't find remote ref|not found|\b40[13]\b|Authentication failed|could not read Username|terminal prompts disabled|Host key verification failed|Permission denied|hook declined|protected branch/i.test(
            text,
          );
        reject(permanent ? new GitPermanentError(message) : new GitUnavailableError(message));
      },
    );
  });
}

/** Writes one file's version; answers whether the file changed. */
async function edit(work: string, file: GitFileEdit): Promise<boolean> {
  const full = path.join(work, file.path);
  if (!full.startsWith(`${work}${path.sep}`))
    throw new GitPermanentError(`${file.path}: outside the repository`);
  let text = '';
  try {
    const info = await stat(full);
    if (info.size > MAX_FILE_BYTES)
      throw new GitPermanentError(`${file.path} is over ${MAX_FILE_BYTES} bytes`);
    text = await readFile(full, 'utf8');
  } catch (err) {
    if (err instanceof GitPermanentError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (file.format === 'kustomize')
      throw new GitPermanentError(`${file.path} does not exist in the repository`);
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw new GitPermanentError(`${file.path} is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  if (file.format === 'kustomize') {
    if (!isMap(doc.contents)) throw new GitPermanentError(`${file.path} is not a kustomization (no mapping)`);
    let images = doc.get('images');
    if (images === undefined || images === null) {
      doc.set('images', doc.createNode([]));
      images = doc.get('images');
    }
    if (!isSeq(images)) throw new GitPermanentError(`${file.path}: images is not a list`);
    let entry = images.items.find((i) => isMap(i) && i.get('name') === file.image) as YAMLMap | undefined;
    if (!entry) {
      entry = doc.createNode({ name: file.image }) as YAMLMap;
      images.items.push(entry);
    }
    if (file.use === 'digest') {
      if (!file.digest) throw new GitPermanentError(`the release has no digest for ${file.image}`);
      entry.set('digest', file.digest);
      entry.delete('newTag');
    } else {
      entry.set('newTag', file.tag);
      entry.delete('digest');
    }
  } else {
    const value = file.use === 'digest' ? file.digest : file.tag;
    if (!value) throw new GitPermanentError(`the release has no digest to write into ${file.path}`);
    if (doc.contents !== null && !isMap(doc.contents))
      throw new GitPermanentError(`${file.path}: the document is not a mapping`);
    doc.setIn(file.field!.split('.'), value);
  }
  const next = doc.toString();
  if (next === text) return false;
  await mkdir(path.dirname(full), { recursive: true });
  await writeFile(full, next);
  return true;
}
