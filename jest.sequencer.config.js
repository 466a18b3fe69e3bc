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
/** The slowest files that start before the unit files (jest.config.js runs six workers). */
const LEAD = 4;

class KnownDurationsSequencer extends Sequencer {
  /**
   * In a run of every project, the unit files start right after the four slowest files, not last: the slowest
   * are mostly waits on timers and outages, and while six of them waited together the two cores idled for a
   * third of the run's first minute and a half (vmstat: 35–63 % idle). The unit files are pure CPU and short,
   * so they fill that time on the two other workers; the short integration files still close the run.
   */
  sort(tests) {
    const sorted = super.sort(tests);
    const isUnit = (t) => t.context.config.displayName?.name === 'unit';
    const units = sorted.filter(isUnit);
    const others = sorted.filter((t) => !isUnit(t));
    if (units.length === 0 || others.length === 0) return sorted;
    return [...others.slice(0, LEAD), ...units, ...others.slice(LEAD)];
  }

  time(test) {
    const cached = super.time(test);
    if (cached !== undefined) return cached;
    const known = durations[path.relative(path.join(__dirname, 'test'), test.path).split(path.sep).join('/')];
    return known === undefined ? undefined : known * 1000;
  }
}

module.exports = KnownDurationsSequencer;
