#!/usr/bin/env node
// `npm start` and `npm test` work on a fresh clone: install the locked dependencies first when they are missing.
const { existsSync } = require('node:fs');
const { execSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
if (!existsSync(path.join(root, 'node_modules', '.package-lock.json'))) {
  process.stdout.write('feed-triggers: installing dependencies (npm ci) for the first run...\n');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
