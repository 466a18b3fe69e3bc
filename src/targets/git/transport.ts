import { lookup } from 'node:dns/promises';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ExecError, execCommand } from '../../runtime/exec-helper';
import { checkOutboundUrl, OutboundPolicy, OutboundRefusedError, refusedAddress } from '../../net/outbound';

/** A refusal retrying cannot fix: a bad file, a missing branch, a refused URL. */
export class GitPermanentError extends Error {}
/** The remote is unreachable or answered an error that may pass. */
export class GitUnavailableError extends Error {}

const MAX_FILE_BYTES = 1024 * 1024;

/** One branch of one remote, and who commits to it. */
export interface GitRemote {
  readonly url: string;
  readonly branch: string;
  readonly author: { readonly name: string; readonly email: string };
  /** An HTTPS token, sent in a header (never in the URL or on a command line). */
  readonly token?: string;
  /** For ssh:// remotes: the private key, and the server's pinned host key lines. */
  readonly ssh?: { readonly key: string; readonly knownHosts: string };
}

/** A regular file of a fetched tree: its mode (kept when it is rewritten) and its text. */
export interface GitFile {
  readonly mode: string;
  readonly text: string;
}

/**
 * A bare repository that talks to one branch of one remote with the real `git`, in its object database
 * only: nothing is ever checked out, so a symbolic link in the repository cannot lead a read or a write
 * outside it.
 */
export interface BareRepository {
  /** Fetches the branch's head (depth 1) and answers its commit. */
  fetchHead(): Promise<string>;
  /** The file at `at` (a `repositoryPath`) in the commit's tree, or null when there is none. */
  readFile(commit: string, at: string, where: string): Promise<GitFile | null>;
  /** Writes the files as blobs, a tree from `parent`'s with them in it, and a commit on `parent`. */
  commit(parent: string, files: ReadonlyMap<string, GitFile>, message: string): Promise<string>;
  /** Pushes the commit to the branch; a push the remote refused because it moved fails `remoteMoved`. */
  push(commit: string): Promise<void>;
}

/** Whether a push failed only because the remote's branch moved since the fetch (fetch again and redo). */
export function remoteMoved(err: unknown): boolean {
  return /\[rejected\]|fetch first|non-fast-forward|failed to update ref|stale info/i.test(
    (err as Error).message,
  );
}

/**
 * Runs `work` with a bare repository in a private temporary folder, removed afterwards. The token goes in
 * an HTTP header set through git's environment; git's own configuration files, hooks, prompts, redirects
 * and every protocol but HTTP(S) (or SSH for ssh:// remotes) are off. Check the remote with
 * `checkRemote` first.
 */
export async function withBareRepository<T>(
  remote: GitRemote,
  work: (repository: BareRepository) => Promise<T>,
): Promise<T> {
  // The process id in the name lets a later start tell a folder a kill -9 left from one in use.
  const dir = await mkdtemp(path.join(os.tmpdir(), `${GIT_FOLDER_PREFIX}${process.pid}-`));
  try {
    const ssh = remote.url.startsWith('ssh://');
    if (ssh) {
      if (!remote.ssh) throw new GitPermanentError('an ssh:// repository needs a key and its known hosts');
      // Only this key, only the pinned host key, no agent, no config files, no prompts.
      await writeFile(
        path.join(dir, 'key'),
        remote.ssh.key.endsWith('\n') ? remote.ssh.key : `${remote.ssh.key}\n`,
        { mode: 0o600 },
      );
      await writeFile(path.join(dir, 'known_hosts'), `${remote.ssh.knownHosts.trim()}\n`, { mode: 0o600 });
    }
    const repo = path.join(dir, 'repo.git');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      GIT_DIR: repo,
      GIT_INDEX_FILE: path.join(dir, 'index'),
      GIT_LITERAL_PATHSPECS: '1',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: '/bin/false',
      GIT_AUTHOR_NAME: remote.author.name,
      GIT_AUTHOR_EMAIL: remote.author.email,
      GIT_COMMITTER_NAME: remote.author.name,
      GIT_COMMITTER_EMAIL: remote.author.email,
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
      ...(remote.token
        ? {
            GIT_CONFIG_COUNT: '1',
            GIT_CONFIG_KEY_0: 'http.extraHeader',
            GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x-access-token:${remote.token}`).toString('base64')}`,
          }
        : {}),
    };
    const git = (command: string, args: string[], input?: Buffer) =>
      run(
        command,
        ['-c', 'http.followRedirects=false', '-c', 'core.hooksPath=/dev/null', command, ...args],
        dir,
        env,
        remote.url,
        input,
      );
    const text = async (command: string, ...args: string[]) => (await git(command, args)).toString('utf8');
    await text('init', '-q', '--bare', '--template=', repo);
    const tracking = `refs/remotes/origin/${remote.branch}`;
    return await work({
      async fetchHead() {
        await text(
          'fetch',
          '-q',
          '--depth=1',
          '--no-tags',
          remote.url,
          `+refs/heads/${remote.branch}:${tracking}`,
        );
        return (await text('rev-parse', '--verify', '-q', `${tracking}^{commit}`)).trim();
      },
      async readFile(commit, at, where) {
        const entry = await treeEntry(text, commit, at);
        return entry ? { mode: entry.mode, text: await readBlob(git, entry, where) } : null;
      },
      async commit(parent, files, message) {
        await text('read-tree', parent);
        for (const [at, f] of files) {
          const blob = (
            await git('hash-object', ['-w', '--no-filters', '--stdin'], Buffer.from(f.text, 'utf8'))
          )
            .toString('utf8')
            .trim();
          await text('update-index', '--add', '--cacheinfo', `${f.mode},${blob},${at}`);
        }
        const tree = (await text('write-tree')).trim();
        return (await git('commit-tree', [tree, '-p', parent, '-F', '-'], Buffer.from(message, 'utf8')))
          .toString('utf8')
          .trim();
      },
      async push(commit) {
        await text('push', '-q', '--no-verify', remote.url, `${commit}:refs/heads/${remote.branch}`);
      },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The name every write-back folder in the temporary folder starts with, then the process id and `-`. */
export const GIT_FOLDER_PREFIX = 'feed-triggers-git-';
/** A write-back folder's name: the prefix, the process id, mkdtemp's six characters. */
const STALE_FOLDER = /^feed-triggers-git-(\d+)-[A-Za-z0-9]{6}$/;
/** Earlier versions named it without the process id: such a folder an hour old is no attempt's any more. */
const LEGACY_FOLDER = /^feed-triggers-git-[A-Za-z0-9]{6}$/;
const LEGACY_AGE_MS = 60 * 60 * 1000;

/**
 * Removes write-back folders that a process killed mid-attempt left in the temporary folder (they can
 * hold a deploy key): those of processes no longer running, and this process id's from before it
 * started (a container restarts with the same id). Another running worker's folders stay. Answers the
 * folders removed.
 */
export async function removeStaleGitFolders(tmp = os.tmpdir()): Promise<string[]> {
  const started = Date.now() - process.uptime() * 1000;
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(tmp);
  } catch {
    return removed;
  }
  for (const name of names) {
    const match = STALE_FOLDER.exec(name);
    const legacy = LEGACY_FOLDER.test(name);
    if (!match && !legacy) continue;
    const folder = path.join(tmp, name);
    const pid = Number(match?.[1]);
    try {
      const info = await stat(folder);
      const age = Date.now() - info.mtimeMs;
      const stale = legacy
        ? age > LEGACY_AGE_MS
        : pid === process.pid
          ? info.mtimeMs < started
          : !running(pid) || age > DAY_MS;
      if (!stale || !info.isDirectory()) continue;
      await rm(folder, { recursive: true, force: true });
      removed.push(folder);
    } catch {
      // Gone meanwhile, or not ours to remove: nothing to do.
    }
  }
  return removed;
}

/** No attempt lasts a day: a folder that old is stale even if its process id was reused. */
const DAY_MS = 24 * 60 * 60 * 1000;

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Code points no path of ours needs and some file systems or tools drop or fold: controls (Cc), format
 * characters (Cf: zero-width joiners, BOM, bidi marks), other default-ignorables (HFS+ skips them when it
 * compares names, so `.git\u200c` is `.git` on a Mac) and lone surrogates (not UTF-8 at all).
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;
/** The same, every one (for showing them escaped; `replace` starts it afresh each time). */
const EVERY_INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Default_Ignorable_Code_Point}]/gu;

/**
 * A path component another checkout would take for Git's own folder, compared after NFKC (fullwidth
 * `．ｇｉｔ`, a no-break space) and in any case: `.git` with trailing dots or spaces (Windows drops them) or an
 * NTFS stream (`.git::$INDEX_ALLOCATION`), and `git~1`, its NTFS short name. Git's own path checks refuse
 * the same (core.protectHFS, core.protectNTFS).
 */
function namesDotGit(part: string): boolean {
  const folded = part.normalize('NFKC').toLowerCase();
  return /^\.git[. ]*(:.*)?$/.test(folded) || /^git~1[. ]*$/.test(folded);
}

/**
 * The path a file edit names, as a path inside the repository's tree: relative, normalised, never
 * climbing out, never into `.git` (in any case or Unicode form, with trailing dots or spaces that some
 * file systems drop), and nothing a file name cannot be or a reader cannot see.
 */
export function repositoryPath(given: string): string {
  // Invisible code points are shown escaped, so the message says which path it was.
  const shown = JSON.stringify(given.slice(0, 200)).replace(
    EVERY_INVISIBLE,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
  const refuse = (why: string) => new GitPermanentError(`${shown}: ${why}`);
  if (given === '' || /[\0\\]/.test(given) || given.length > 4096)
    throw refuse('not a file path in the repository');
  if (INVISIBLE.test(given))
    throw refuse('the path holds an invisible or control character (some file systems drop or fold them)');
  if (given.startsWith('/')) throw refuse('an absolute path is outside the repository');
  const normal = path.posix.normalize(given);
  if (normal === '..' || normal.startsWith('../')) throw refuse('the path climbs outside the repository');
  const parts = normal.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw refuse('not a file path in the repository');
  if (parts.some(namesDotGit)) throw refuse('a path into .git is refused');
  return parts.join('/');
}

interface TreeEntry {
  readonly mode: string;
  readonly oid: string;
  readonly size: number;
}

/**
 * The blob at `at` in the commit's tree, or null when there is none (a new file may be made there). Every
 * folder along the path must be a folder: a symbolic link, a submodule or a file in its place is refused,
 * and so is a target that is not a regular file.
 */
async function treeEntry(
  text: (command: string, ...args: string[]) => Promise<string>,
  commit: string,
  at: string,
): Promise<TreeEntry | null> {
  const parts = at.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    const out = await text('ls-tree', '-z', '-l', '--full-tree', commit, '--', prefix);
    const line = out.split('\0').find((l) => l.endsWith(`\t${prefix}`));
    if (!line) return null;
    const [meta] = line.split('\t');
    const [mode, , oid, size] = meta.split(/\s+/);
    const last = i === parts.length;
    if (mode === '120000')
      throw new GitPermanentError(
        `${prefix} is a symbolic link in the repository; write-back follows no links (one could lead outside it)`,
      );
    if (mode === '160000')
      throw new GitPermanentError(`${prefix} is a submodule; write-back edits files of this repository only`);
    if (!last && mode !== '040000') throw new GitPermanentError(`${prefix} is not a folder`);
    if (last) {
      if (mode !== '100644' && mode !== '100755') throw new GitPermanentError(`${prefix} is not a file`);
      return { mode, oid, size: Number(size) };
    }
  }
  return null;
}

/** A blob's text; refused when it is too large or not UTF-8 (an edit must give back its bytes). */
async function readBlob(
  git: (command: string, args: string[]) => Promise<Buffer>,
  entry: TreeEntry,
  where: string,
): Promise<string> {
  if (entry.size > MAX_FILE_BYTES) throw new GitPermanentError(`${where} is over ${MAX_FILE_BYTES} bytes`);
  const bytes = await git('cat-file', ['blob', entry.oid]);
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw new GitPermanentError(`${where} is not UTF-8 text`);
  return text;
}

/** The remote's URL passes the outbound policy, and so does every address its host resolves to now. */
export async function checkRemote(url: string, policy: OutboundPolicy): Promise<void> {
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

async function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  url: string,
  input?: Buffer,
): Promise<Buffer> {
  // From the small helper process: forking this one (a worker may hold a gigabyte) costs far more per command.
  let err: ExecError;
  try {
    return (
      await execCommand('git', args, { cwd, env, input, timeoutMs: 120_000, maxBuffer: 4 * 1024 * 1024 })
    ).stdout;
  } catch (e) {
    if (!(e instanceof ExecError)) throw e;
    err = e;
  }
  const stderr = err.stderr;
  // The line that says why, when ssh or git gives one; otherwise git's own lines without its generic
  // advice (which would push the cause out of the excerpt).
  const lines = `${stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/correct access rights|and the repository exists/.test(l));
  const cause = lines.find((l) =>
    /Host key verification failed|Permission denied|couldn't find remote ref|Authentication failed/i.test(l),
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
  throw permanent ? new GitPermanentError(message) : new GitUnavailableError(message);
}
