#!/usr/bin/env node
// The CLI runs from the compiled output that `npm ci` / `npm run build` produce, on a Node the project
// supports: users start it through the shebang, so it gets whatever `node` is first on their PATH. When
// that one is older than the floor in package.json's engines, the CLI runs itself again on the Node that
// package.json pins (the `node` package, installed by `npm ci` into node_modules/node).
const path = require('node:path');
const { existsSync } = require('node:fs');

/** The oldest Node the project runs on: kysely 0.29 needs 22, `require(esm)` without a flag 22.12. */
const FLOOR = [22, 12];
const [major, minor] = process.versions.node.split('.').map(Number);
const supported = major > FLOOR[0] || (major === FLOOR[0] && minor >= FLOOR[1]);

if (supported) {
  require('../dist/src/cli.js');
} else {
  const pinned = path.resolve(__dirname, '../node_modules/node/bin/node');
  // The pinned Node never runs this branch (it is above the floor); the variable stops a loop should it not be.
  if (!existsSync(pinned) || process.env.FEED_TRIGGERS_REEXEC) {
    process.stderr.write(
      `feed-triggers: needs Node ${FLOOR.join('.')} or later and this is ${process.version}; ` +
        `run \`npm ci\` in ${path.resolve(__dirname, '..')} to install the Node it pins, or install Node 24.\n`,
    );
    process.exit(1);
  }
  const { spawn } = require('node:child_process');
  const child = spawn(pinned, [...process.execArgv, __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, FEED_TRIGGERS_REEXEC: '1' },
  });
  // A pinned Node that is there but cannot start (not executable, another platform's) is a line, not a crash.
  child.on('error', (err) => {
    process.stderr.write(
      `feed-triggers: cannot start the Node that package.json pins (${err.code ?? err.message}); ` +
        `run \`npm ci\` in ${path.resolve(__dirname, '..')} to install it again, or install Node 24.\n`,
    );
    process.exit(1);
  });
  // A signal sent to this process alone (a supervisor's SIGTERM) reaches the CLI, which drains and exits.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (code !== null) process.exit(code);
    // Ended by a signal: end the same way, so a shell or supervisor sees what the CLI saw.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
}
