import { execFile } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  constants,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/** The Temporal CLI version we build from the Go module proxy: later ones have a replace directive in go.mod. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

export class TemporalCliError extends Error {
  readonly code = 'TEMPORAL_CLI_MISSING';
}

/** Where a built CLI is cached between runs and clones: `$XDG_CACHE_HOME/feed-triggers/temporal-cli/<version>`. */
export function cliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'feed-triggers', 'temporal-cli', TEMPORAL_CLI_VERSION);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

/** A CLI already on this machine: TEMPORAL_CLI_PATH, then PATH, then the cache folder. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.TEMPORAL_CLI_PATH) {
    if (!isExecutable(env.TEMPORAL_CLI_PATH)) {
      throw new TemporalCliError(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} is not an executable file`);
    }
    return env.TEMPORAL_CLI_PATH;
  }
  const cached = path.join(cliCacheDir(env), 'temporal');
  return onPath('temporal', env) ?? (isExecutable(cached) ? cached : null);
}

/** Builds the CLI with `go install` into the cache folder; returns its path, or null when Go is absent. */
export async function buildTemporalCli(
  env: NodeJS.ProcessEnv = process.env,
  say: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<string | null> {
  const go = onPath('go', env) ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null);
  if (!go) return null;
  const dir = cliCacheDir(env);
  mkdirSync(dir, { recursive: true });
  say(
    `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install into ${dir} (once; a few minutes on 2 cores)...`,
  );
  try {
    await promisify(execFile)(go, ['install', `${CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
      env: { ...env, GOBIN: dir, GOFLAGS: `${env.GOFLAGS ?? ''} -buildvcs=false`.trim() },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new TemporalCliError(
      `go install ${CLI_MODULE}@${TEMPORAL_CLI_VERSION} failed:\n${stderr.slice(-2000)}`,
    );
  }
  const built = path.join(dir, 'temporal');
  if (!isExecutable(built)) throw new TemporalCliError(`go install finished but ${built} is missing`);
  return built;
}

/** Temporal's CDN: `<base>/<version>?platform=&arch=` answers with the CLI's .tar.gz (the CLI README's "CDN"). */
export const TEMPORAL_CLI_DOWNLOAD_BASE = 'https://temporal.download/cli/archive';
/** The archive is ~60 MB; anything far larger is not the CLI. */
const MAX_ARCHIVE_BYTES = 512 * 1024 * 1024;
const CDN_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

/**
 * Downloads the CLI's archive from Temporal's CDN into the cache folder (the last resort, needs internet)
 * and returns the path of the `temporal` in it. The SDK's test environment did this before; doing it here
 * keeps `@temporalio/testing` out of production and starts every dev server the same way.
 */
export async function downloadTemporalCli(
  env: NodeJS.ProcessEnv = process.env,
  say: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  base: string = TEMPORAL_CLI_DOWNLOAD_BASE,
): Promise<string> {
  const arch = CDN_ARCH[process.arch];
  if ((process.platform !== 'linux' && process.platform !== 'darwin') || !arch) {
    throw new TemporalCliError(`no Temporal CLI download for ${process.platform}/${process.arch}`);
  }
  const url = `${base}/${TEMPORAL_CLI_VERSION}?platform=${process.platform}&arch=${arch}`;
  const dir = cliCacheDir(env);
  mkdirSync(dir, { recursive: true });
  say(`Downloading the Temporal CLI ${TEMPORAL_CLI_VERSION} from ${url} into ${dir} (once)...`);
  const response = await fetch(url, { signal: AbortSignal.timeout(300_000) }).catch((err: unknown) => {
    throw new TemporalCliError(`download from ${url} failed: ${(err as Error).message}`);
  });
  if (!response.ok) throw new TemporalCliError(`download from ${url} failed: HTTP ${response.status}`);
  const archive = Buffer.from(await response.arrayBuffer());
  if (archive.length > MAX_ARCHIVE_BYTES) {
    throw new TemporalCliError(`download from ${url} is ${archive.length} bytes, not a Temporal CLI archive`);
  }
  // Unpacked beside the cache first, so a half-written binary is never found by findTemporalCli.
  const staging = mkdtempSync(path.join(dir, '.download-'));
  try {
    writeFileSync(path.join(staging, 'cli.tar.gz'), archive);
    try {
      await promisify(execFile)('tar', ['-xzf', 'cli.tar.gz', 'temporal'], { cwd: staging });
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? (err as Error).message;
      throw new TemporalCliError(`the archive from ${url} holds no temporal binary: ${stderr.trim()}`);
    }
    chmodSync(path.join(staging, 'temporal'), 0o755);
    renameSync(path.join(staging, 'temporal'), path.join(dir, 'temporal'));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return path.join(dir, 'temporal');
}

/** A CLI found or built here; null means only the download from Temporal's CDN (internet) is left. */
export async function ensureTemporalCli(env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  return findTemporalCli(env) ?? (await buildTemporalCli(env));
}

/** The one message for a machine with no CLI and no way to get one. */
export const NO_CLI_MESSAGE =
  'No Temporal CLI found and none could be obtained. Install one of: the Temporal CLI on PATH ' +
  '(https://docs.temporal.io/cli), Go (to build it with `go install ' +
  `${CLI_MODULE}@${TEMPORAL_CLI_VERSION}\`), or set TEMPORAL_CLI_PATH; or set TEMPORAL_ADDRESS to use a running server.`;
