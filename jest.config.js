/** Jest runs TypeScript through swc (no type check; `npm run lint` type-checks). */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.[tj]s$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // Kysely and jose ship ES modules only: Node requires them natively, Jest needs them turned into CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(kysely|jose)/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 120000,
  maxWorkers: 2,
};
