// Mocha's spec reporter, plus the run's totals and its failures (title and first lines of the error)
// written as JSON to $MOCHA_STATS_FILE, read by .ci/run, which prints the failures again at its end
// (CI keeps only the tail of a long log).
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');

class StatsSpec extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const failures = [];
    runner.on('fail', (test, err) => {
      const message = String((err && (err.stack || err.message)) || err)
        .split('\n')
        .slice(0, 6)
        .join('\n');
      failures.push({ title: test.fullTitle(), file: test.file, message });
    });
    runner.once('end', () => {
      const file = process.env.MOCHA_STATS_FILE;
      if (file) fs.writeFileSync(file, JSON.stringify({ ...this.stats, failureList: failures }));
    });
  }
}

module.exports = StatsSpec;
