import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { AccessApiSimulator, clusterEvents, spreadEvents } from '../support/access-api-simulator.js';
import { prng } from '../support/event-factory.js';
import { collect, runCli, spawnCli } from '../support/cli.js';
import { HecSimulator } from '../support/hec-simulator.js';
import {
  ACCOUNT_A,
  countedMaybeDuplicated,
  exactlyOnceReport,
  readLines,
  tempDir,
  writeConfig,
} from '../support/harness.js';
import type { AccessEvent } from '../../src/datasets/access-requests/event.js';

describe('crash safety: kill -9 at random moments', function () {
  this.timeout(600_000);

  it('loses and duplicates nothing in a file output across 20+ kills and restarts', async () => {
    const sim = await new AccessApiSimulator({ latencyMs: 15, outOfWindowRows: true }).start();
    const dir = tempDir();
    const out = join(dir, 'out.ndjson');
    const config = writeConfig(dir, {
      baseUrl: sim.baseUrl,
      statePath: join(dir, 'state.json'),
      pageSize: 100,
      overlap: '10s',
      sweepEvery: '1s',
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
    // The kill instant is drawn within how long an unkilled run takes on this machine (it varies
    // several-fold between machines), so kills land at startup, mid-read and mid-commit alike.
    let typicalRunMs = 2500;
    try {
      for (let round = 0; kills < 22 && round < 150; round++) {
        // New activity between restarts, some of it late (inside the overlap, before the checkpoint).
        const t = Date.now();
        add(spreadEvents(150, t - 8_000, t - 2_000, 200 + round));
        const child = spawnCli(['run', '--once', '--config', config]);
        const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
        const started = Date.now();
        const delay = 100 + Math.floor(rand() * typicalRunMs);
        const timer = setTimeout(() => child.kill('SIGKILL'), delay);
        const [code, signal] = await exited;
        clearTimeout(timer);
        if (signal === 'SIGKILL') kills++;
        else {
          assert.equal(code, 0, `run ${round} exited ${String(code)}`);
          completedRuns++;
          typicalRunMs = Math.round(0.7 * typicalRunMs + 0.3 * (Date.now() - started));
        }
      }
      // Once the last late events have settled past the 10 s overlap, a sweep finds every one.
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      const final = await runCli(['run', '--once', '--config', config]);
      assert.equal(final.code, 0, final.stderr);
      const report = exactlyOnceReport(readLines(out), expected);
      console.log(
        `      ${kills} kills, ${completedRuns} runs completed unkilled, ${report.total} lines for ${expected.length} events`,
      );
      assert.ok(kills >= 20, `only ${kills} kills landed`);
      assert.deepEqual(report, { missing: 0, duplicated: 0, unexpected: 0, total: expected.length });
    } finally {
      await sim.stop();
    }
  });

  it('HEC with acks: a backfill killed many times sends again only what was cut in flight, counted', async () => {
    const sim = await new AccessApiSimulator({ latencyMs: 120 }).start();
    // Acks take a while, as on a loaded indexer: at any instant several requests wait for theirs.
    const hec = await new HecSimulator({ ack: true, ackDelayMs: 400 }).start();
    const dir = tempDir();
    const config = writeConfig(dir, {
      baseUrl: sim.baseUrl,
      statePath: join(dir, 'state.json'),
      pageSize: 1000,
      outputs: `  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", format: json, ack: true, ack_poll_interval: 100ms, batch: { max_events: 250 } }`,
    });
    const day = Date.parse('2024-05-03T00:00:00Z');
    const events = spreadEvents(60_000, day, day + 12 * 3600_000, 303);
    sim.addEvents(ACCOUNT_A, events);
    const args = ['backfill', '--since', '2024-05-03T00:00:00Z', '--until', '2024-05-03T12:00:00Z', '--config', config];
    const rand = prng(20261202);
    let kills = 0;
    let counted = 0;
    try {
      for (let round = 0; round < 60; round++) {
        const child = spawnCli(args);
        const done = collect(child);
        // Killed once HEC has taken a random 250–4,000 more events in this run (plus up to 150 ms),
        // so every kill lands mid-stream however fast this machine runs the backfill.
        const indexedAtStart = hec.events.length;
        const progress = 250 + Math.floor(rand() * 3750);
        const extraMs = Math.floor(rand() * 150);
        const watch =
          kills < 12
            ? setInterval(() => {
                if (hec.events.length - indexedAtStart < progress) return;
                clearInterval(watch);
                setTimeout(() => child.kill('SIGKILL'), extraMs);
              }, 10)
            : undefined;
        const result = await done;
        clearInterval(watch);
        counted += countedMaybeDuplicated(result.stderr);
        if (result.signal === 'SIGKILL') {
          kills++;
          continue;
        }
        assert.equal(result.code, 0, result.stderr.slice(-2000));
        if (/complete: \d+ events/.test(result.stdout)) break;
      }
      const report = exactlyOnceReport(
        hec.events.map((e) => JSON.stringify(e.event)),
        events,
      );
      console.log(
        `      ${kills} kills: sent ${events.length}, indexed ${hec.events.length}, duplicated ${report.duplicated}, lost ${report.missing}; counted as maybe duplicated ${counted}`,
      );
      assert.ok(kills >= 8, `only ${kills} kills landed`);
      assert.equal(report.missing, 0);
      assert.equal(report.unexpected, 0);
      assert.ok(report.duplicated <= counted, `duplicated ${report.duplicated} > counted ${counted}`);
    } finally {
      await sim.stop();
      await hec.stop();
    }
  });
});
