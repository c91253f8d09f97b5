import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import { runCli } from '../support/cli.js';
import { ACCOUNT_A, exactlyOnceReport, readLines, tempDir, writeConfig } from '../support/harness.js';
import { canonicalize } from '../../src/format/time.js';
import type { StatusReport } from '../../src/cli/status.js';

describe('backfill and status', function () {
  this.timeout(180_000);
  let sim: AccessApiSimulator;
  beforeEach(async () => {
    sim = await new AccessApiSimulator({ zeroTotalCount: true }).start();
  });
  afterEach(async () => {
    await sim.stop();
  });

  function setup() {
    const dir = tempDir();
    const out = join(dir, 'backfill.ndjson');
    const state = join(dir, 'state', 'state.json');
    const config = writeConfig(dir, {
      baseUrl: sim.baseUrl,
      statePath: state,
      pageSize: 100,
      outputs: `  - { name: archive, type: file, path: ${out}, format: json }\n  - { name: console, type: stdout, format: cef }`,
    });
    return { dir, out, state, config };
  }

  it('ships exactly the range to the chosen output, resumes after a failure, and leaves the daemon state alone', async () => {
    const day = Date.parse('2024-05-01T00:00:00Z');
    const events = spreadEvents(1000, day, day + 10 * 3600_000, 5);
    sim.addEvents(ACCOUNT_A, events);
    const { out, state, config } = setup();
    const since = '2024-05-01T02:00:00Z';
    const until = '2024-05-01T08:00:00Z';
    const inRange = events.filter((e) => {
      const t = canonicalize(String(e.created_at))!;
      return t >= canonicalize(since)! && t < canonicalize(until)!;
    });
    // Pages 1–3 succeed, then the API stays broken: the backfill stops with progress saved.
    sim.faults.push({ kind: 'delay', ms: 1, times: 3 }, { kind: 'status', status: 500, times: 6 });
    const args = ['backfill', '--since', since, '--until', until, '--output', 'archive', '--config', config];
    const failed = await runCli(args);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stdout, /stopped with errors; run the same command again to resume/);
    assert.equal(readLines(out).length, 300);
    const resumed = await runCli(args);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming/);
    assert.match(resumed.stdout, /complete: \d+ events/);
    assert.deepEqual(exactlyOnceReport(readLines(out), inRange), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: inRange.length,
    });
    assert.ok(!existsSync(state), 'the daemon state was not created');
    const requests = sim.requests.length;
    const again = await runCli(args);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already completed/);
    assert.equal(sim.requests.length, requests, 'a completed job makes no request');

    const status = await runCli(['status', '--json', '--config', config]);
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout) as StatusReport;
    assert.equal(report.backfill_jobs.length, 1);
    assert.equal(report.backfill_jobs[0]!.progress_percent, 100);
    assert.deepEqual(report.backfill_jobs[0]!.outputs, ['archive']);
    assert.equal(report.outputs[0]!.checkpoint, null);
    const text = await runCli(['status', '--config', config]);
    assert.match(
      text.stdout,
      /backfill [0-9a-f]{16}: \[2024-05-01T02:00:00\.000000000Z, 2024-05-01T08:00:00\.000000000Z\) → archive: complete/,
    );
  });

  it('--dry-run counts without shipping or saving; relative times work', async () => {
    const now = Date.now();
    sim.addEvents(ACCOUNT_A, spreadEvents(240, now - 3 * 3600_000, now - 60_000));
    const { out, dir, config } = setup();
    const result = await runCli(['backfill', '--since', '2h', '--until', '1h', '--dry-run', '--config', config]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /dry run: (79|80|81) events in \[.*\) across 1 account\(s\), 2 API request\(s\); nothing shipped/,
    );
    assert.ok(!existsSync(out));
    assert.ok(!existsSync(join(dir, 'state', 'backfill')) || readdirSync(join(dir, 'state', 'backfill')).length === 0);
  });

  it('rejects an unknown output and a reversed range as usage errors', async () => {
    const { config } = setup();
    const unknown = await runCli(['backfill', '--since', '2h', '--output', 'nope', '--config', config]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--output nope: no such output; configured outputs are archive, console/);
    const reversed = await runCli(['backfill', '--since', '1h', '--until', '2h', '--config', config]);
    assert.equal(reversed.code, 2);
    assert.match(reversed.stderr, /must be before --until/);
    const bad = await runCli(['backfill', '--since', 'yesterday', '--config', config]);
    assert.equal(bad.code, 2);
  });

  it('status shows checkpoints, lag and errors after run --once', async () => {
    const now = Date.now();
    sim.addEvents(ACCOUNT_A, spreadEvents(30, now - 30 * 60_000, now - 10_000));
    const { config } = setup();
    assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
    const report = JSON.parse((await runCli(['status', '--json', '--config', config])).stdout) as StatusReport;
    assert.equal(report.outputs.length, 2);
    for (const output of report.outputs) {
      assert.equal(output.delivered, 30);
      assert.ok(output.lag_seconds !== null && output.lag_seconds < 120);
      assert.ok(output.last_success !== null);
    }
    assert.equal(report.accounts[0]!.last_poll?.fetched, 30);
    const text = (await runCli(['status', '--config', config])).stdout;
    assert.match(text, /output archive: checkpoint .* \(lag \d+s\), 30 delivered/);
  });
});
