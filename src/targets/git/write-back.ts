import { OutboundPolicy } from '../../net/outbound';
import {
  CpuPool,
  PoolBusyError,
  PoolTaskError,
  PoolTimeoutError,
  sharedCpuPool,
} from '../../runtime/cpu-pool';
import { DeployFileEdit, DeployFileError, editDeployFile } from './deploy-file';
import {
  checkRemote,
  GitFile,
  GitPermanentError,
  GitUnavailableError,
  remoteMoved,
  repositoryPath,
  withBareRepository,
} from './transport';

export {
  GIT_FOLDER_PREFIX,
  GitPermanentError,
  GitUnavailableError,
  removeStaleGitFolders,
  repositoryPath,
} from './transport';

/** One file to write: where the version goes and which version. */
export type GitFileEdit = DeployFileEdit;

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

/**
 * GitOps write-back: fetch the branch's head, edit each file from the fetched tree, commit the changed
 * ones on that head and push; when the remote moved meanwhile, fetch again and redo the edits on the new
 * head, a few times. Whether the branch already holds the version is read from the remote's tree, so a
 * branch that does makes no empty commit. Transport (the bare repository, its refusals of links,
 * submodules and paths that climb out) is `./transport`; this is the deployment's part.
 */
export async function writeBack(req: GitWriteRequest): Promise<GitWriteResult> {
  await checkRemote(req.url, req.policy);
  const paths = req.files.map((f) => repositoryPath(f.path));
  return withBareRepository(req, async (repository) => {
    const attempts = req.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const head = await repository.fetchHead();
      // Every edit of a file sees the edits before it; each file is read once, from the fetched tree.
      const files = new Map<string, { mode: string; before: string; after: string }>();
      for (const [i, file] of req.files.entries()) {
        const at = paths[i];
        let current = files.get(at);
        if (!current) {
          const found = await repository.readFile(head, at, file.path);
          if (!found && file.format === 'kustomize')
            throw new GitPermanentError(`${file.path} does not exist in the repository`);
          const before = found?.text ?? '';
          current = { mode: found?.mode ?? '100644', before, after: before };
          files.set(at, current);
        }
        try {
          current.after = await editOffTheEventLoop(current.after, file);
        } catch (err) {
          if (err instanceof DeployFileError) throw new GitPermanentError(err.message);
          throw err;
        }
      }
      const changed = new Map<string, GitFile>(
        [...files]
          .filter(([, f]) => f.after !== f.before)
          .map(([at, f]) => [at, { mode: f.mode, text: f.after }]),
      );
      if (changed.size === 0) return { commit: null, pushAttempts: attempt - 1 };
      const commit = await repository.commit(head, changed, req.message);
      try {
        await repository.push(commit);
      } catch (err) {
        if (remoteMoved(err) && attempt < attempts) continue;
        throw err;
      }
      return { commit, pushAttempts: attempt };
    }
  });
}

/**
 * Deploy files up to this many characters (UTF-16 units: the editing's cost follows them) are edited on the
 * event loop. Editing parses the file and its result, and composes the file's document twice (the one edited,
 * the model of the edit): a 1 MiB values file takes seconds, which on the worker's event loop would hold every
 * other activity, heartbeat and poll of the process.
 */
export const INLINE_EDIT_CHARS = 64 * 1024;

/**
 * editDeployFile, in a thread of the CPU pool for a file larger than INLINE_EDIT_CHARS. Its refusal comes back
 * as the same DeployFileError; a pool too busy to take it, or an edit past the pool's deadline, is a
 * GitUnavailableError: the deployment tries again later.
 */
export async function editOffTheEventLoop(
  text: string,
  file: DeployFileEdit,
  pool: CpuPool = sharedCpuPool('targets'),
): Promise<string> {
  if (text.length <= INLINE_EDIT_CHARS) return editDeployFile(text, file);
  try {
    return await pool.run('deployFileEdit', { text, file });
  } catch (err) {
    if (err instanceof PoolTaskError && err.errorName === 'DeployFileError')
      throw new DeployFileError(err.message);
    if (err instanceof PoolBusyError || err instanceof PoolTimeoutError)
      throw new GitUnavailableError(`${file.path} could not be edited now: ${err.message}`);
    throw err;
  }
}
