#!/usr/bin/env node
'use strict';
/**
 * Removes compiled files in dist/ whose TypeScript source no longer exists, before `tsc -b` builds.
 *
 * `tsc -b` never deletes the output of a source that was removed or moved, and Node resolves a stale file
 * ahead of the new one: `dist/src/config.js` left from before `src/config/` became a folder is loaded for
 * `require('./config')` instead of `dist/src/config/index.js`, and the built service fails at start. Only the
 * folders tsc compiles into are pruned (tsconfig.build.json's `include`); the console's and the workflow
 * bundles' outputs are not tsc's and stay.
 */
const fs = require('node:fs');
const path = require('node:path');

// The repository (a test passes another folder laid out the same way).
const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));
const dist = path.join(root, 'dist');
const COMPILED = ['src', 'workflows', 'activities', 'scripts'];
const OUTPUT = /^(.*)\.(js|js\.map|d\.ts|d\.ts\.map)$/;

function hasSource(relativeBase) {
  return ['.ts', '.tsx'].some((ext) => fs.existsSync(path.join(root, relativeBase + ext)));
}

function prune(dir, relative) {
  let removed = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const rel = path.join(relative, entry.name);
    if (entry.isDirectory()) {
      removed += prune(full, rel);
      if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
      continue;
    }
    const output = OUTPUT.exec(rel);
    if (output && !hasSource(output[1])) {
      fs.rmSync(full);
      removed++;
    }
  }
  return removed;
}

let removed = 0;
for (const folder of COMPILED) {
  const dir = path.join(dist, folder);
  if (fs.existsSync(dir)) removed += prune(dir, folder);
}
if (removed > 0) process.stdout.write(`prune-dist: removed ${removed} output(s) of deleted sources\n`);
