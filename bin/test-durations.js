#!/usr/bin/env node
// Writes test/durations.json (seconds per test file, slowest first) from whole runs'
// `npm test -- --json --outputFile=FILE`: jest.sequencer.config.js starts the slowest files first by it.
// Given several runs, a file's time is the least it took: a busy machine only lengthens it.
const fs = require('node:fs');
const path = require('node:path');

const inputs = process.argv.slice(2);
if (inputs.length === 0) {
  console.error('usage: node bin/test-durations.js <jest --json output>...');
  process.exit(2);
}
const root = path.resolve(__dirname, '..', 'test');
const least = new Map();
for (const input of inputs)
  for (const r of JSON.parse(fs.readFileSync(input, 'utf8')).testResults) {
    const file = path.relative(root, r.name).split(path.sep).join('/');
    const seconds = Math.round((r.endTime - r.startTime) / 100) / 10;
    least.set(file, Math.min(seconds, least.get(file) ?? Infinity));
  }
const sorted = [...least].sort((a, b) => b[1] - a[1]);
fs.writeFileSync(
  path.join(root, 'durations.json'),
  `${JSON.stringify(Object.fromEntries(sorted), null, 2)}\n`,
);
console.log(`test/durations.json: ${sorted.length} files`);
