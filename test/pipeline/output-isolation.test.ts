/**
 * One bad output neither stalls nor taxes the others (issue: output isolation): a syslog peer
 * that stops reading, a HEC token that stays revoked for many polls.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import { collect, runCli, spawnCli } from '../support/cli.js';
import { ACCOUNT_A, exactlyOnceReport, readLines, tempDir, waitFor, writeConfig } from '../support/harness.js';
import { HecSimulator } from '../support/hec-simulator.js';
import { StallingSyslog } from '../support/stalling-syslog.js';

function unique(lines: readonly string[]): number {
  return new Set(lines).size;
}

describe('output isolation: one bad output never stalls or taxes the others', function () {
  this.timeout(240_000);
  let sim: AccessApiSimulator;

  afterEach(async () => {
    await sim.stop();
  });

  it('a syslog peer that never reads: the file output completes, syslog fails within write_timeout and catches up after the peer recovers', async () => {
    sim = await new AccessApiSimulator().start();
    const now = Date.now();
    const events = spreadEvents(20_000, now - 110 * 60_000, now - 20_000, 61);
    sim.addEvents(ACCOUNT_A, events);
    const peer = await new StallingSyslog({ reading: false }).start();
    try {
      const dir = tempDir();
      const file = join(dir, 'out.ndjson');
      const config = writeConfig(dir, {
        baseUrl: sim.baseUrl,
        statePath: join(dir, 'state.json'),
        pageSize: 1000,
        pollExtra: '  slow_output_wait: 2s',
        outputs: `  - { name: archive, type: file, path: ${file}, format: json }\n  - { name: relay, type: syslog, host: 127.0.0.1, port: ${peer.port}, transport: tcp, format: json, write_timeout: 1s }`,
      });
      const started = Date.now();
      const stalled = await runCli(['run', '--once', '--config', config]);
      const seconds = (Date.now() - started) / 1000;
      assert.equal(stalled.code, 1, stalled.stderr);
      assert.match(stalled.stderr, /output relay \(account .*\) is slower than the others; it is left behind/);
      assert.match(
        stalled.stderr,
        /write timed out after 1000 ms: the server accepts the connection but stopped reading/,
      );
      const fileReport = exactlyOnceReport(readLines(file), events);
      console.log(
        `      peer not reading: file output ${fileReport.total}/${events.length} in ${seconds.toFixed(1)} s, relay received ${peer.messages.length} before it stopped reading`,
      );
      assert.deepEqual(fileReport, { missing: 0, duplicated: 0, unexpected: 0, total: events.length });

      peer.resume();
      const recovered = await runCli(['run', '--once', '--config', config]);
      assert.equal(recovered.code, 0, recovered.stderr);
      assert.match(
        recovered.stderr,
        /output relay \(account .*\) is behind the other outputs: it catches up in its own reads/,
      );
      const relay = peer.jsonLines();
      const relayReport = exactlyOnceReport(relay, events);
      console.log(
        `      after recovery: relay has ${unique(relay)} distinct of ${events.length} (${relayReport.missing} lost, ${relayReport.duplicated} resent twice), file output ${readLines(file).length}`,
      );
      assert.equal(relayReport.missing, 0);
      assert.equal(relayReport.unexpected, 0);
      assert.equal(readLines(file).length, events.length, 'the file output was sent nothing again');
    } finally {
      await peer.stop();
    }
  });

  it("a HEC token revoked for many polls: API requests per poll stay at the file output's need; HEC catches up once fixed, 0 lost, 0 duplicated", async () => {
    sim = await new AccessApiSimulator().start();
    const hec = await new HecSimulator({ ack: true, ackDelayMs: 20 }).start();
    try {
      const now = Date.now();
      const events = spreadEvents(20_000, now - 110 * 60_000, now - 20_000, 62);
      sim.addEvents(ACCOUNT_A, events);
      const dir = tempDir();
      const file = join(dir, 'out.ndjson');
      const spec = (token: string) => ({
        baseUrl: sim.baseUrl,
        statePath: join(dir, 'state.json'),
        pageSize: 1000,
        outputs: `  - { name: archive, type: file, path: ${file}, format: json }\n  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: "${token}", ack: true, ack_poll_interval: 100ms }`,
      });
      const config = writeConfig(dir, spec('00000000-0000-0000-0000-000000000000'));
      writeFileSync(config, readLinesRaw(config).replace('poll:\n', 'poll:\n  schedule: "* * * * * *"\n'));
      const child = spawnCli(['run', '--config', config]);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const done = collect(child, { timeoutMs: 120_000 });
      await waitFor(() => readLines(file).length === events.length && /fetched 20000 in/.test(stderr), 60_000);
      const afterFirst = sim.requests.length;
      const polls = (): number => stderr.match(/^.*info account .*fetched \d+ in/gm)?.length ?? 0;
      const pollsBefore = polls();
      await waitFor(() => polls() >= pollsBefore + 8, 30_000);
      const steadyPolls = polls() - pollsBefore;
      const steadyRequests = sim.requests.length - afterFirst;
      child.kill('SIGTERM');
      const first = await done;
      assert.equal(first.code, 0, first.stderr);
      const stoppedLines = (first.stderr.match(/output splunk \(account .*\): .*tried again in/g) ?? []).length;
      console.log(
        `      token revoked: ${afterFirst} requests for the first poll (20,000 events), then ${steadyRequests} requests in ${steadyPolls} polls; "stopped" logged ${stoppedLines} time(s)`,
      );
      assert.ok(
        steadyRequests <= 2 * steadyPolls + 2,
        `${steadyRequests} requests in ${steadyPolls} polls: the dead output must not re-read its window every poll`,
      );
      assert.ok(stoppedLines <= 2, `the failure is logged once per retry, not per poll (${stoppedLines})`);
      const status = JSON.parse((await runCli(['status', '--json', '--config', config])).stdout) as {
        outputs: { output: string; last_error: { message: string } | null }[];
        output_retry?: Record<string, unknown>;
      };
      assert.match(status.outputs.find((o) => o.output === 'splunk')?.last_error?.message ?? '', /403/);

      // The token is fixed in the configuration: a restart tries the output at once and it catches up.
      writeConfig(dir, spec(hec.token));
      const fixed = await runCli(['run', '--once', '--config', config]);
      assert.equal(fixed.code, 0, fixed.stderr);
      const hecLines = hec.events.map((e) => JSON.stringify(e.event));
      const report = exactlyOnceReport(hecLines, events);
      console.log(
        `      token fixed: HEC indexed ${report.total} of ${events.length}, lost ${report.missing}, duplicated ${report.duplicated}; file output ${readLines(file).length}`,
      );
      assert.deepEqual(report, { missing: 0, duplicated: 0, unexpected: 0, total: events.length });
      assert.deepEqual(exactlyOnceReport(readLines(file), events), {
        missing: 0,
        duplicated: 0,
        unexpected: 0,
        total: events.length,
      });
    } finally {
      await hec.stop();
    }
  });
});

function readLinesRaw(path: string): string {
  return readLines(path).join('\n') + '\n';
}
