const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;
const durations = require('./test/durations.json');

/**
 * Jest runs the slowest files first, as its cache of the last run's times says, so no long file starts last
 * and holds the run up alone. A fresh clone (CI) has no cache, and Jest then orders by file size, which says
 * little here (the longest files are waits on timers, not many tests): test/durations.json holds the times of
 * a whole run (`node bin/test-durations.js <jest --json output>` writes it). A file in neither runs first, as
 * Jest does with a file it knows nothing of: a new file may be a long one.
 */
class KnownDurationsSequencer extends Sequencer {
  time(test) {
    const cached = super.time(test);
    if (cached !== undefined) return cached;
    const known = durations[path.relative(path.join(__dirname, 'test'), test.path).split(path.sep).join('/')];
    return known === undefined ? undefined : known * 1000;
  }
}

module.exports = KnownDurationsSequencer;
