const { appendFileSync, statSync } = require('node:fs');
const vm = require('node:vm');
const { TestEnvironment } = require('jest-environment-node');

/**
 * Jest's Node environment, with V8's code cache kept across the test files a jest worker runs. Jest gives
 * every test file a fresh module registry and compiles every module again in the file's context (the
 * service's modules, the Temporal SDK, zod, undici...: about a third of the CPU a file spends before its
 * first test). V8's code cache does not depend on the context, so the second file on a worker takes the
 * compiled code the first one left, functions it compiled lazily included. The cache lives in the worker's
 * memory for the run, keyed by file name and checked against the module's whole text, so a module that
 * changed is compiled afresh.
 */

/** @type {Map<string, { source: string, data: Buffer }>} */
const codeCache = new Map();
/** Modules compiled without a usable cache by the running test file: their cache is taken at its end. */
let uncached = [];

const wrapperStart = (params) => `(function (${params.join(', ')}) {\n`;

const compileFunction = vm.compileFunction;
// Jest compiles each module with vm.compileFunction (read from the module at every call, so this takes its
// place), which makes its code cache at compile time: functions compiled later, which are most of them, would
// not be in it. A script wrapping the same function can make its cache after it ran.
vm.compileFunction = function compileWithCodeCache(code, params = [], options = {}) {
  const { parsingContext, filename, importModuleDynamically, cachedData, produceCachedData } = options;
  if (!parsingContext || !filename || cachedData || produceCachedData)
    return compileFunction.call(this, code, params, options);
  const known = codeCache.get(filename);
  const usable = known !== undefined && known.source === code;
  const script = new vm.Script(`${wrapperStart(params)}${code}\n})`, {
    filename,
    // The wrapper's line is line 0: the module's lines and columns are its own in stack traces.
    lineOffset: -1,
    ...(usable ? { cachedData: known.data } : {}),
    ...(importModuleDynamically ? { importModuleDynamically } : {}),
  });
  if (!usable || script.cachedDataRejected) uncached.push({ filename, code, script });
  return script.runInContext(parsingContext);
};

/**
 * Jest maps each stack it formats through the source maps of the files in it, and parses a map written inline
 * in a file it did not transform again for every test file (its map cache lives as long as the file's run).
 * The workflow bundle carries a 2 MB one, and every Temporal worker a test starts formats a stack in it (the
 * SDK runs the bundle once in an empty context, where it throws): 0.3–0.4 s of CPU per test file. Such files
 * do not change during a run (the bundle's name is its content's hash), so each jest worker parses each one
 * once; a file whose size or time changed is parsed again.
 */
// The cache's class is not exported: a throwaway cache of the exported formatter shows it.
const SourceMapCache = Object.getPrototypeOf(
  new (require('@jest/source-map').SourceMapSupport)().cacheFor(null),
).constructor;
const readAdjacent = SourceMapCache.prototype.readAdjacent;
/** @type {Map<string, unknown>} */
const adjacentMaps = new Map();
SourceMapCache.prototype.readAdjacent = function readAdjacentOnce(generatedPath) {
  let stat;
  try {
    stat = statSync(generatedPath);
  } catch {
    return readAdjacent.call(this, generatedPath);
  }
  const key = `${generatedPath}\0${stat.size}\0${stat.mtimeMs}`;
  if (!adjacentMaps.has(key)) adjacentMaps.set(key, readAdjacent.call(this, generatedPath));
  return adjacentMaps.get(key);
};

/**
 * FEED_TRIGGERS_TEST_CPU_LOG=<file>: each test file appends a line `{"file":..., "cpuMs":...}`, the CPU its jest
 * worker spent on it (every thread: jest, the Temporal worker's core and workflow threads; not the processes
 * it starts), to find the files worth making cheaper.
 */
const cpuLog = process.env.FEED_TRIGGERS_TEST_CPU_LOG;

/**
 * FEED_TRIGGERS_TEST_CPU_PROFILE=<folder>: a V8 CPU profile of each test file's jest thread (where its tests,
 * the service's code and the SDK's JavaScript run), `<file>.cpuprofile`, for Chrome's DevTools or any
 * .cpuprofile reader. Jest ends its workers without a clean exit, so `node --cpu-prof` loses these. V8 samples
 * the thread on a clock: time it spends blocked in a synchronous call (a child's fork and exec on a loaded box)
 * shows as that call, so read it beside FEED_TRIGGERS_TEST_CPU_LOG.
 */
const profileDir = process.env.FEED_TRIGGERS_TEST_CPU_PROFILE;
/** The inspector session of this jest worker, opened by its first profiled file. */
let inspectorSession;
const post = (method, params) =>
  new Promise((resolve, reject) =>
    inspectorSession.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
  );

/**
 * Modules every test file gets from the jest worker's own realm instead of loading them again: Temporal's
 * protobuf definitions (a 2 MB descriptor turned into reflection objects at each load, and each message's
 * decoder generated at its first use: about 0.9 s of CPU in every file that talks to Temporal). They hold no
 * state a test changes, and what they return is plain data. jest.config.js lists them, each mapped to its
 * stand-in in test/support/shared, which asks the worker's realm for it through the function below.
 */
const sharedModule = (id) => require(id);

class CodeCachingEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.global.__feedTriggersSharedModule = sharedModule;
    this.testPath = context.testPath;
    this.cpuAtStart = process.cpuUsage();
  }

  /** With FEED_TRIGGERS_TEST_CPU_LOG, a line per test and per hook too: `{"file", "test", "cpuMs"}`. */
  handleTestEvent(event) {
    if (!cpuLog) return;
    if (event.name === 'test_fn_start' || event.name === 'hook_start') this.cpuAtEvent = process.cpuUsage();
    else if (
      ['test_fn_success', 'test_fn_failure', 'hook_success', 'hook_failure'].includes(event.name) &&
      this.cpuAtEvent
    ) {
      const spent = process.cpuUsage(this.cpuAtEvent);
      const names = [];
      for (let b = event.test ?? event.hook?.parent; b && b.parent; b = b.parent) names.unshift(b.name);
      const test = event.hook ? `${event.hook.type} ${names.join(' > ')}` : names.join(' > ');
      const cpuMs = Math.round((spent.user + spent.system) / 1000);
      appendFileSync(cpuLog, `${JSON.stringify({ file: this.testPath, test, cpuMs })}\n`);
      this.cpuAtEvent = undefined;
    }
  }

  async setup() {
    await super.setup();
    if (profileDir) {
      if (!inspectorSession) {
        inspectorSession = new (require('node:inspector').Session)();
        inspectorSession.connect();
        await post('Profiler.enable');
        await post('Profiler.setSamplingInterval', { interval: 1000 });
      }
      await post('Profiler.start');
    }
  }

  async teardown() {
    for (const { filename, code, script } of uncached)
      codeCache.set(filename, { source: code, data: script.createCachedData() });
    uncached = [];
    // Node keeps a timing entry for each fetch (up to 250) in the worker's performance timeline, and each
    // entry holds on to the test file's global objects: an early file's whole module graph would outlive it.
    performance.clearResourceTimings();
    await super.teardown();
    if (profileDir) {
      const { profile } = await post('Profiler.stop');
      const name = require('node:path').relative(__dirname, this.testPath).replace(/[\\/]/g, '_');
      require('node:fs').writeFileSync(
        require('node:path').join(profileDir, `${name}.cpuprofile`),
        JSON.stringify(profile),
      );
    }
    if (cpuLog) {
      const spent = process.cpuUsage(this.cpuAtStart);
      const cpuMs = Math.round((spent.user + spent.system) / 1000);
      appendFileSync(cpuLog, `${JSON.stringify({ file: this.testPath, cpuMs })}\n`);
    }
  }
}

module.exports = CodeCachingEnvironment;
