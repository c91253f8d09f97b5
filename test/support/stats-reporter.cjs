// Mocha's spec reporter, plus the run's totals written as JSON to $MOCHA_STATS_FILE (read by .ci/run).
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');

class StatsSpec extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const file = process.env.MOCHA_STATS_FILE;
      if (file) fs.writeFileSync(file, JSON.stringify(this.stats));
    });
  }
}

module.exports = StatsSpec;
