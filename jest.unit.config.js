/**
 * The fast door: pure tests only (test/unit), with no global setup (no build, no Temporal server, no
 * workflow bundle). `npm run test:unit`.
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/unit'],
  globalSetup: undefined,
  globalTeardown: undefined,
};
