import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * How the workflows are bundled, here, in the replayer and in the tests' prebuilt bundle.
 *
 * The SDK gives every cached workflow its own instance of each module the workflow code loads, unless the
 * module is preloaded: then one instance, loaded before any workflow runs and deep-frozen, is shared by
 * all. The workflow modules, the domain code they import and semver keep no per-workflow state at module
 * level (proxies, signal definitions, constants and pure functions; semver's range cache is a pure
 * memo), so all of them are preloaded: a cached trigger then costs the worker its own state only (measured
 * with `npm run bench:memory`: 355 → 262 KiB of RSS per cached trigger, most of the rest is the SDK's own).
 * RE2JS stays per workflow, loaded on first use by the few rules with regexes of their own: it fills its
 * own tables lazily, which a frozen module would refuse.
 *
 * These are options of `bundleWorkflowCode`. `Worker.create` reads `preloadModules` only under
 * `bundlerOptions`, so the service never hands them to the worker: it runs a bundle made by
 * `cachedWorkflowBundle` instead.
 */
export function workflowBundleOptions() {
  const workflowsPath = require.resolve('../../workflows');
  return { workflowsPath, preloadModules: [workflowsPath] };
}

/** The compiled code a bundle is made of: the workflows and everything under the root they import from. */
const BUNDLED_DIRS = ['workflows', 'src', 'activities'];

/**
 * A key for the bundle of the code beside this file: a hash of every compiled file the workflows could
 * import, and of the lock file and SDK version that fix the dependencies bundled with them.
 */
export function workflowBundleKey(root = path.resolve(__dirname, '..', '..')): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (/\.(js|ts|json)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        hash
          .update(`${path.relative(root, file)}\0`)
          .update(readFileSync(file))
          .update('\0');
      }
    }
  };
  for (const dir of BUNDLED_DIRS) walk(path.join(root, dir));
  const sdk = require.resolve('@temporalio/workflow/package.json');
  hash.update(readFileSync(sdk));
  for (const lock of [path.join(root, 'package-lock.json'), path.join(root, '..', 'package-lock.json')])
    if (existsSync(lock)) hash.update(readFileSync(lock));
  return hash.digest('hex').slice(0, 32);
}

/** How many bundles of earlier builds stay in the cache directory (processes still starting may read them). */
const KEPT_BUNDLES = 3;

/**
 * The workflow bundle for the code beside this file, from a cache on disk keyed by `workflowBundleKey`;
 * on a miss it is made by a child process (`bundle-workflows.js`). A service start then costs no webpack
 * run (8–17 s on a loaded 2-core box), and the worker process never loads the bundler's memory (about
 * 90 MB of RSS it would keep for its lifetime). The cache lives beside the build output; where that cannot
 * be written, the bundle is made in a private temporary directory, handed over as code and the directory
 * removed; the next start makes it again.
 */
export async function cachedWorkflowBundle(): Promise<{ codePath: string } | { code: string }> {
  const builder = path.join(__dirname, 'bundle-workflows.js');
  if (!existsSync(builder)) {
    // Run from TypeScript sources (a test importing this file): no build output to cache beside, so bundle here.
    const { bundleWorkflowCode } = await import('@temporalio/worker');
    return { code: (await bundleWorkflowCode(workflowBundleOptions())).code };
  }
  const key = workflowBundleKey();
  const shared = path.resolve(__dirname, '..', '..', 'workflow-bundles');
  const codePath = path.join(shared, `${key}.js`);
  if (existsSync(codePath)) return { codePath };
  try {
    mkdirSync(shared, { recursive: true });
    // An image's build output may belong to another user than the one running it.
    accessSync(shared, constants.W_OK);
  } catch {
    // Made in a private directory, read, and the directory removed: the worker reads the bundle once, at
    // its start, so nothing is left behind in the temporary directory across restarts.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-triggers-bundle-'));
    try {
      const target = path.join(dir, `${key}.js`);
      await makeBundle(builder, target);
      return { code: readFileSync(target, 'utf8') };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  await makeBundle(builder, codePath);
  try {
    pruneBundles(shared, codePath);
  } catch {
    // Another process pruned or wrote at the same moment: the next start prunes again.
  }
  return { codePath };
}

function makeBundle(builder: string, target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [builder, target],
      { timeout: 5 * 60_000, maxBuffer: 1024 * 1024 },
      (err, _stdout, stderr) => {
        if (err)
          reject(new Error(`bundling the workflows failed: ${stderr.trim().slice(-2000) || err.message}`));
        else resolve();
      },
    );
  });
}

/** Keeps the newest few bundles: each build of the code adds one. */
function pruneBundles(dir: string, keep: string): void {
  const bundles = readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => path.join(dir, f))
    .filter((f) => f !== keep)
    .map((f) => ({ f, at: statSync(f).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const { f } of bundles.slice(KEPT_BUNDLES - 1)) rmSync(f, { force: true });
}
