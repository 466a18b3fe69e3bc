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
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.[tj]s$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // Kysely and jose ship ES modules only: Node requires them natively, Jest needs them turned into CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(kysely|jose)/)'],
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
  // Most integration time is waiting on timers and backoffs (intervals, outages, deadlines), not CPU: four
  // workers on two cores overlap those waits (the whole run: 321 s with three, 252 s with four). Not more: the
  // run needs about 470 s of CPU (most in the test workers: each file loads the service's modules and starts a
  // Temporal worker), so a fifth worker on two cores nears what the CPU allows.
  maxWorkers: 4,
  // The slowest files first, by the last run's times or test/durations.json (a fresh clone has no cache).
  testSequencer: '<rootDir>/jest.sequencer.config.js',
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/test/unit'] },
    { ...withServers, displayName: 'integration', roots: ['<rootDir>/test/integration'] },
    { ...withServers, displayName: 'system', roots: ['<rootDir>/test/system'] },
  ],
};
