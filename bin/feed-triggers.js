#!/usr/bin/env node
// The CLI runs from the compiled output that `npm ci` / `npm run build` produce.
require('../dist/src/cli.js');
