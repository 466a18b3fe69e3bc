#!/usr/bin/env node
// Writes test/durations.json (seconds per test file, slowest first) from a whole run's
// `npm test -- --json --outputFile=FILE`: jest.sequencer.config.js starts the slowest files first by it.
const fs = require('node:fs');
const path = require('node:path');

const [input] = process.argv.slice(2);
if (!input) {
  console.error('usage: node bin/test-durations.js <jest --json output>');
  process.exit(2);
}
const root = path.resolve(__dirname, '..', 'test');
const { testResults } = JSON.parse(fs.readFileSync(input, 'utf8'));
const seconds = testResults
  .map((r) => [
    path.relative(root, r.name).split(path.sep).join('/'),
    Math.round((r.endTime - r.startTime) / 100) / 10,
  ])
  .sort((a, b) => b[1] - a[1]);
fs.writeFileSync(
  path.join(root, 'durations.json'),
  `${JSON.stringify(Object.fromEntries(seconds), null, 2)}\n`,
);
console.log(`test/durations.json: ${seconds.length} files`);
