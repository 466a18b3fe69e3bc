#!/usr/bin/env node
// `npm start` and `npm test` work on a fresh clone: install the locked dependencies first when they are missing,
// or when they predate the Node that package.json pins (the `node` package puts it first on npm scripts' PATH).
// This runs on the system's node, whatever its version: it uses nothing newer than Node 16.
const { existsSync } = require('node:fs');
const { execSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const modules = path.join(root, 'node_modules');
if (
  !existsSync(path.join(modules, '.package-lock.json')) ||
  !existsSync(path.join(modules, 'node', 'bin', 'node'))
) {
  process.stdout.write('feed-triggers: installing dependencies (npm ci) for the first run...\n');
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 22 || (major === 22 && minor < 12))
    process.stdout.write(
      `feed-triggers: npm will warn that Node ${process.version} is older than package.json's engines; ` +
        'it installs the Node 24 that package.json pins, and npm start and npm test run on that one.\n',
    );
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
