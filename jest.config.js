/**
 * Three doors into the tests, one jest project each (`npm test` runs all three; `--selectProjects` picks):
 * - `unit`: pure tests (test/unit), no global setup: no build, no Temporal server, no database.
 * - `integration`: the real components in this process: one Temporal dev server and one PostgreSQL server
 *   for the whole run (test/support/global-setup.ts), a fresh database per test worker from a migrated
 *   template.
 * - `system`: suites that start the built service in processes of their own, or stop servers on purpose.
 * Jest runs a global setup once however many projects name it, and only when a project of the run does.
 * Jest runs TypeScript through swc (no type check; `npm run lint` type-checks).
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

/**
 * Packages jest loads as one pre-built CommonJS file each instead of hundreds of modules. Jest gives every
 * test file a fresh module registry, so each file resolves, reads and compiles every module again: kysely
 * alone is 304 ES modules (turned into CommonJS by the transform), rxjs (the Temporal worker's) 226. One file
 * is the same code for a fraction of that work. Each entry names the package and the specifiers that map to
 * its bundle; every specifier the tests and their dependencies use must be listed, or a module would load a
 * second copy of the package (two classes of each name). Node, the service and `npm run build` use the
 * packages as installed.
 */
const PREBUNDLED = {
  kysely: ['kysely'],
  jose: ['jose'],
  rxjs: ['rxjs', 'rxjs/operators'],
};

/**
 * The bundle of `name` under node_modules/.cache, made by esbuild once and kept while the package, esbuild
 * and this recipe are unchanged (the name holds their hash); returns the module mapping for jest.
 */
function prebundled(name, specifiers) {
  const esbuild = require('esbuild');
  const root = path.join(__dirname, 'node_modules');
  const version = require(path.join(root, name, 'package.json')).version;
  const recipe = JSON.stringify({ name, version, specifiers, esbuild: esbuild.version, format: 2 });
  const hash = crypto.createHash('sha256').update(recipe).digest('hex').slice(0, 16);
  const dir = path.join(root, '.cache', 'jest-prebundled');
  const bundle = path.join(dir, `${name}-${hash}.js`);
  if (!fs.existsSync(bundle)) {
    // One bundle for every specifier, so a class is the same one whichever specifier a module imports.
    const entry = specifiers.map((s, i) => `export * as s${i} from ${JSON.stringify(s)};`).join('\n');
    const { outputFiles } = esbuild.buildSync({
      stdin: { contents: entry, resolveDir: __dirname, loader: 'js' },
      bundle: true,
      write: false,
      format: 'cjs',
      platform: 'node',
      target: 'node22',
      logLevel: 'error',
    });
    fs.mkdirSync(dir, { recursive: true });
    // Written aside and renamed: a concurrent run never reads half a file.
    const partial = `${bundle}.${process.pid}.tmp`;
    fs.writeFileSync(partial, outputFiles[0].contents);
    fs.renameSync(partial, bundle);
  }
  const mapping = {};
  specifiers.forEach((specifier, i) => {
    const facade = path.join(dir, `${name}-${hash}-s${i}.js`);
    if (!fs.existsSync(facade)) {
      const partial = `${facade}.${process.pid}.tmp`;
      fs.writeFileSync(partial, `module.exports = require('./${path.basename(bundle)}').s${i};\n`);
      fs.renameSync(partial, facade);
    }
    mapping[`^${specifier.replace(/[/.]/g, '\\$&')}$`] = facade;
  });
  return mapping;
}

const common = {
  testEnvironment: '<rootDir>/jest.environment.config.js',
  transform: { '^.+\\.[tj]s$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // Kysely and jose ship ES modules only: Node requires them natively; jest gets them as CommonJS bundles.
  transformIgnorePatterns: ['/node_modules/'],
  moduleNameMapper: Object.assign(
    {
      // Loaded once per jest worker and shared by its test files (jest.environment.config.js says why).
      '^@temporalio/proto$': '<rootDir>/test/support/shared/temporal-proto.ts',
      '^@temporalio/proto/lib/patch-protobuf-root$':
        '<rootDir>/test/support/shared/temporal-proto-patch-protobuf-root.ts',
      '^@temporalio/proto/lib/payload-visitor\\.generated$':
        '<rootDir>/test/support/shared/temporal-proto-payload-visitor.ts',
    },
    ...Object.entries(PREBUNDLED).map(([name, specifiers]) => prebundled(name, specifiers)),
  ),
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['**/*.test.ts'],
};

const withServers = {
  ...common,
  setupFilesAfterEnv: ['<rootDir>/test/support/retry-once.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};

module.exports = {
  // Read from here only: jest-circus takes the run's timeout, not a project's.
  testTimeout: 120000,
  // Most integration time is waiting on timers and backoffs (intervals, outages, deadlines), not CPU: more
  // workers than cores overlap those waits. With four on this 2-core box the first two minutes (the long files,
  // mostly waits) used 65 % of the CPU and the whole run took 364 s; six keep it at 97 % from the start: 279 s.
  // Eight overload it (workflow tasks of 11 s, 316 s).
  maxWorkers: 6,
  // The slowest files first, by the last run's times or test/durations.json (a fresh clone has no cache).
  testSequencer: '<rootDir>/jest.sequencer.config.js',
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/test/unit'] },
    { ...withServers, displayName: 'integration', roots: ['<rootDir>/test/integration'] },
    { ...withServers, displayName: 'system', roots: ['<rootDir>/test/system'] },
  ],
};
