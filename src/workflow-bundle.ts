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
 */
export function workflowBundleOptions() {
  const workflowsPath = require.resolve('../workflows');
  return { workflowsPath, preloadModules: [workflowsPath] };
}
