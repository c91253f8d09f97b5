import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import { runCli, spawnCli, collect } from '../support/cli.js';
import { HecSimulator } from '../support/hec-simulator.js';
import { ACCOUNT_A, exactlyOnceReport, readLines, tempDir, writeConfig } from '../support/harness.js';
import type { AccessEvent } from '../../src/datasets/access-requests/event.js';
import type { StatusReport } from '../../src/cli/status.js';

function hecLines(hec: HecSimulator): string[] {
  return hec.events.map((e) => JSON.stringify(e.event));
}

describe('pipeline into Splunk HEC', function () {
  this.timeout(180_000);
  let api: AccessApiSimulator;
  let hec: HecSimulator;
  afterEach(async () => {
    await api.stop();
    await hec.stop();
  });

  it('run --once ships to HEC and a file; HEC down does not stall the file; status shows both positions', async () => {
    api = await new AccessApiSimulator().start();
    hec = await new HecSimulator({ ack: true, ackDelayMs: 50 }).start();
    const now = Date.now();
    const events = spreadEvents(300, now - 60 * 60_000, now - 20_000);
    api.addEvents(ACCOUNT_A, events);
    const dir = tempDir();
    const file = join(dir, 'out.ndjson');
    const config = writeConfig(dir, {
      baseUrl: api.baseUrl,
      statePath: join(dir, 'state.json'),
      outputs: `  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", ack: true, ack_poll_interval: 100ms }\n  - { name: archive, type: file, path: ${file}, format: json }`,
    });
    assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
    assert.deepEqual(exactlyOnceReport(hecLines(hec), events), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: 300,
    });
    const port = hec.port;
    await hec.outage();
    const after = Date.now();
    // Older than the ~2 s the run leaves for later (settle 1 s, the API's whole-second Date header).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const more = spreadEvents(50, after, after + 400, 31);
    api.addEvents(ACCOUNT_A, more);
    const down = await runCli(['run', '--once', '--config', config]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /output splunk .*ECONNREFUSED/);
    assert.deepEqual(exactlyOnceReport(readLines(file), [...events, ...more]), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: 350,
    });
    const status = JSON.parse((await runCli(['status', '--json', '--config', config])).stdout) as StatusReport;
    const splunk = status.outputs.find((o) => o.output === 'splunk')!;
    const archive = status.outputs.find((o) => o.output === 'archive')!;
    assert.equal(splunk.delivered, 300);
    assert.equal(archive.delivered, 350);
    assert.ok(splunk.checkpoint! < archive.checkpoint!, 'the failed output keeps its own position');
    assert.match(splunk.last_error?.message ?? '', /ECONNREFUSED/);
    await hec.start(port);
    assert.equal((await runCli(['run', '--once', '--config', config])).code, 0);
    assert.deepEqual(exactlyOnceReport(hecLines(hec), [...events, ...more]), {
      missing: 0,
      duplicated: 0,
      unexpected: 0,
      total: 350,
    });
    assert.equal(readLines(file).length, 350, 'the file output re-sent nothing');
  });

  it('an HEC outage in the middle of a backfill loses nothing and the checkpoint is right', async () => {
    api = await new AccessApiSimulator({ latencyMs: 20 }).start();
    hec = await new HecSimulator({ ack: true }).start();
    const day = Date.parse('2024-05-02T00:00:00Z');
    const events: AccessEvent[] = spreadEvents(3000, day, day + 6 * 3600_000, 12);
    api.addEvents(ACCOUNT_A, events);
    const dir = tempDir();
    const config = writeConfig(dir, {
      baseUrl: api.baseUrl,
      statePath: join(dir, 'state.json'),
      pageSize: 100,
      outputs: `  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", format: cef, ack: false }`,
    });
    const args = ['backfill', '--since', '2024-05-02T00:00:00Z', '--until', '2024-05-02T06:00:00Z', '--config', config];
    const child = spawnCli(args);
    const done = collect(child);
    const port = hec.port;
    // Outage after ten batches, long enough to need several retries.
    while (hec.requests.filter((r) => r.path === '/services/collector/event').length < 10)
      await new Promise((r) => setTimeout(r, 20));
    await hec.outage();
    await new Promise((r) => setTimeout(r, 2500));
    await hec.start(port);
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /delivery failed .*ECONNREFUSED.*retry/);
    const shipped = hec.events.map((e) => String(e.event));
    assert.equal(new Set(shipped).size, 3000, 'every event, once');
    assert.equal(shipped.length, 3000, 'no duplicate');
    const status = JSON.parse((await runCli(['status', '--json', '--config', config])).stdout) as StatusReport;
    assert.equal(status.backfill_jobs[0]!.progress_percent, 100);
    assert.ok(status.backfill_jobs[0]!.completed_at !== null);
  });

  it('rejected events go to the dead-letter file with the reason and do not block the stream', async () => {
    api = await new AccessApiSimulator().start();
    hec = await new HecSimulator({ poisonText: 'mallory@' }).start();
    const now = Date.now();
    const events = spreadEvents(200, now - 60 * 60_000, now - 20_000, 44);
    api.addEvents(ACCOUNT_A, events);
    const poisoned = events.filter((e) => String(e.user_email).startsWith('mallory@')).length;
    assert.ok(poisoned > 0);
    const dir = tempDir();
    const config = writeConfig(dir, {
      baseUrl: api.baseUrl,
      statePath: join(dir, 'state.json'),
      outputs: `  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}" }`,
    });
    const result = await runCli(['run', '--once', '--config', config]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`dead-lettered splunk=${poisoned}`));
    assert.equal(hec.events.length, 200 - poisoned);
    const dead = readFileSync(join(dir, 'dead-letter', 'splunk.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; event: AccessEvent; account_id: string });
    assert.equal(dead.length, poisoned);
    assert.match(dead[0]!.reason, /code 6: Invalid data format/);
    assert.ok(String(dead[0]!.event.user_email).startsWith('mallory@'));
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
      accounts: Record<string, { outputs: Record<string, { dead_lettered: number }> }>;
    };
    assert.equal(state.accounts[ACCOUNT_A]!.outputs.splunk!.dead_lettered, poisoned);
  });
});
