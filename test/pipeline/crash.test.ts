import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { AccessApiSimulator, clusterEvents, spreadEvents } from '../support/access-api-simulator.js';
import { prng } from '../support/event-factory.js';
import { runCli, spawnCli } from '../support/cli.js';
import { ACCOUNT_A, exactlyOnceReport, readLines, tempDir, writeConfig } from '../support/harness.js';
import type { AccessEvent } from '../../src/format/event.js';

describe('crash safety: kill -9 at random moments', function () {
  this.timeout(600_000);

  it('loses and duplicates nothing in a file output across 20+ kills and restarts', async () => {
    const sim = await new AccessApiSimulator({ latencyMs: 15, outOfWindowRows: true }).start();
    const dir = tempDir();
    const out = join(dir, 'out.ndjson');
    const config = writeConfig(dir, {
      baseUrl: sim.baseUrl, statePath: join(dir, 'state.json'), pageSize: 100, overlap: '10s', sweepEvery: '1s',
      outputs: `  - { name: archive, type: file, path: ${out}, format: json }`,
    });
    const rand = prng(20241126);
    const expected: AccessEvent[] = [];
    const add = (events: AccessEvent[]) => {
      sim.addEvents(ACCOUNT_A, events);
      expected.push(...events);
    };
    const now = Date.now();
    add(spreadEvents(6000, now - 100 * 60_000, now - 5 * 60_000, 100));
    add(clusterEvents(450, now - 50 * 60_000, 101));
    let kills = 0;
    let completedRuns = 0;
    try {
      for (let round = 0; kills < 22 && round < 80; round++) {
        // New activity between restarts, some of it late (inside the overlap, before the checkpoint).
        const t = Date.now();
        add(spreadEvents(150, t - 8_000, t - 2_000, 200 + round));
        const child = spawnCli(['run', '--once', '--config', config]);
        const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
        const delay = 300 + Math.floor(rand() * 2500);
        const timer = setTimeout(() => child.kill('SIGKILL'), delay);
        const [code, signal] = await exited;
        clearTimeout(timer);
        if (signal === 'SIGKILL') kills++;
        else {
          assert.equal(code, 0, `run ${round} exited ${String(code)}`);
          completedRuns++;
        }
      }
      // Once the last late events have settled past the 10 s overlap, a sweep finds every one.
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      const final = await runCli(['run', '--once', '--config', config]);
      assert.equal(final.code, 0, final.stderr);
      const report = exactlyOnceReport(readLines(out), expected);
      console.log(`      ${kills} kills, ${completedRuns} runs completed unkilled, ${report.total} lines for ${expected.length} events`);
      assert.ok(kills >= 20, `only ${kills} kills landed`);
      assert.deepEqual(report, { missing: 0, duplicated: 0, unexpected: 0, total: expected.length });
    } finally {
      await sim.stop();
    }
  });
});
