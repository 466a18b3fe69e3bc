/**
 * How the workflows are bundled, here, in the replayer and in the tests' prebuilt bundle.
 *
 * The SDK gives every cached workflow its own instance of each module the workflow code loads, so what
 * workflow code imports is paid per trigger: it imports no schemas (zod: validation is the API's and the
 * activities', in *-schema.ts modules) and loads RE2 only for rules with regexes of their own. Sharing
 * modules across workflows (the SDK's preloadModules) is not used: it freezes them, and semver, zod and
 * re2js all write to their own module state lazily, which a frozen module refuses mid-workflow.
 */
export function workflowBundleOptions() {
  return { workflowsPath: require.resolve('../workflows') };
}
