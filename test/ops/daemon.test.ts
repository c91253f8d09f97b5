import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import { collect, runCli, spawnCli } from '../support/cli.js';
import { HecSimulator } from '../support/hec-simulator.js';
import { ACCOUNT_A, exactlyOnceReport, readLines, tempDir, waitFor, writeConfig } from '../support/harness.js';
import type { StateData } from '../../src/state/schema.js';
import { canonicalTime, parseTimestamp } from '../../src/format/time.js';
import type { ChildProcess } from 'node:child_process';

const TOKEN = 'cfat_SuperSecretToken_0123456789abcdef';

function stderrOf(child: ChildProcess): { text: string } {
  const out = { text: '' };
  child.stderr?.on('data', (d: Buffer) => (out.text += d.toString()));
  return out;
}

describe('run (the daemon)', function () {
  this.timeout(120_000);
  let api: AccessApiSimulator;
  let hec: HecSimulator | undefined;
  beforeEach(async () => {
    api = await new AccessApiSimulator({ token: TOKEN }).start();
  });
  afterEach(async () => {
    await api.stop();
    await hec?.stop();
    hec = undefined;
  });

  it('SIGTERM mid-batch: the batch commits after its ack (exit 0); a restart ships the rest exactly once', async () => {
    hec = await new HecSimulator({ ack: true, ackDelayMs: 1500 }).start();
    const now = Date.now();
    const events = spreadEvents(500, now - 60 * 60_000, now - 20_000, 81);
    api.addEvents(ACCOUNT_A, events);
    const dir = tempDir();
    const state = join(dir, 'state.json');
    const config = writeConfig(dir, {
      baseUrl: api.baseUrl,
      token: TOKEN,
      statePath: state,
      pageSize: 100,
      outputs: `  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", ack: true, ack_poll_interval: 200ms }`,
      extra: 'daemon: { shutdown_timeout: 20s }\n',
    });
    const child = spawnCli(['run', '--config', config]);
    const done = collect(child);
    const h = hec;
    await waitFor(() => h.requests.some((r) => r.path === '/services/collector/event'));
    child.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /SIGTERM: stopping/);
    assert.match(result.stderr, /stopped cleanly/);
    const saved = JSON.parse(readFileSync(state, 'utf8')) as StateData;
    const delivered = saved.accounts[ACCOUNT_A]?.outputs.splunk?.delivered ?? 0;
    // Everything committed was received (and acknowledged) by HEC; nothing past it.
    assert.ok(delivered > 0, 'the in-flight batch committed after its ack');
    assert.ok(delivered <= h.events.length);
    const rest = await runCli(['run', '--once', '--config', config]);
    assert.equal(rest.code, 0, rest.stderr);
    const shipped = h.events.map((e) => JSON.stringify(e.event));
    assert.deepEqual(exactlyOnceReport(shipped, events), { missing: 0, duplicated: 0, unexpected: 0, total: 500 });
  });

  it('past shutdown_timeout it exits 1 and commits nothing unconfirmed; a second signal exits at once', async () => {
    hec = await new HecSimulator({ ack: true, ackDelayMs: 60_000 }).start();
    const now = Date.now();
    const events = spreadEvents(50, now - 30 * 60_000, now - 20_000, 82);
    api.addEvents(ACCOUNT_A, events);
    const dir = tempDir();
    const state = join(dir, 'state.json');
    const config = writeConfig(dir, {
      baseUrl: api.baseUrl,
      token: TOKEN,
      statePath: state,
      outputs: `  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", ack: true, ack_poll_interval: 200ms }`,
      extra: 'daemon: { shutdown_timeout: 1s }\n',
    });
    const child = spawnCli(['run', '--config', config]);
    const done = collect(child);
    const h = hec;
    await waitFor(() => h.requests.some((r) => r.path === '/services/collector/event'));
    child.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 1);
    assert.match(result.stderr, /shutdown_timeout \(1s\) passed with batches unconfirmed/);
    const readState = (): StateData =>
      existsSync(state)
        ? (JSON.parse(readFileSync(state, 'utf8')) as StateData)
        : { version: 1, accounts: {}, sinks: {}, api: {} };
    const splunk = readState().accounts[ACCOUNT_A]?.outputs.splunk;
    assert.equal(splunk?.delivered ?? 0, 0, 'nothing unacknowledged is counted as delivered');
    assert.match(splunk?.last_error?.message ?? '', /stopped waiting for .* at shutdown/, 'status says why');
    const firstEvent = [...events].map((e) => e.created_at as string).sort()[0]!;
    assert.ok(
      splunk === undefined || splunk.checkpoint < canonicalTime(parseTimestamp(firstEvent)!),
      'the checkpoint is not past the unacknowledged batch',
    );

    // The restart asks HEC about the pending ackId (kept beside the state) instead of resending.
    const acksBefore = h.requests.filter((r) => r.path === '/services/collector/ack').length;
    const second = spawnCli(['run', '--config', config]);
    const secondDone = collect(second);
    await waitFor(() => h.requests.filter((r) => r.path === '/services/collector/ack').length > acksBefore + 1);
    assert.equal(
      h.requests.filter((r) => r.path === '/services/collector/event').length,
      1,
      'the accepted batch is not sent again',
    );
    second.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    second.kill('SIGTERM');
    const forced = await secondDone;
    assert.equal(forced.code, 1);
    assert.match(forced.stderr, /SIGTERM again: exiting at once/);
    assert.equal(
      readState().accounts[ACCOUNT_A]?.outputs.splunk?.delivered ?? 0,
      0,
      'still nothing unacknowledged committed',
    );
    assert.ok(!existsSync(`${state}.lock`), 'lock released');
  });

  it('polls on schedule, serves /metrics and /healthz, reopens files on SIGHUP, and never logs a secret', async () => {
    const now = Date.now();
    const first = spreadEvents(120, now - 30 * 60_000, now - 20_000, 83);
    api.addEvents(ACCOUNT_A, first);
    api.faults.push({
      kind: 'status',
      status: 403,
      body: JSON.stringify({ success: false, errors: [{ code: 10000, message: `Authentication error for ${TOKEN}` }] }),
      times: 1,
    });
    const dir = tempDir();
    const file = join(dir, 'out.ndjson');
    const config = writeConfig(dir, {
      baseUrl: api.baseUrl,
      token: TOKEN,
      statePath: join(dir, 'state.json'),
      outputs: `  - { name: archive, type: file, path: ${file}, format: json }`,
      extra: 'daemon: { alert_lag: 1h }\nmetrics: { listen: "127.0.0.1:0" }\n',
    });
    const text = readFileSync(config, 'utf8').replace('poll:\n', 'poll:\n  schedule: "* * * * * *"\n');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(config, text);
    const child = spawnCli(['run', '--config', config]);
    const err = stderrOf(child);
    const exit = once(child, 'exit');
    // The poll's log line comes after its metrics are counted.
    await waitFor(
      () =>
        readLines(file).length === 120 &&
        err.text.includes('shipped archive=120') &&
        /metrics and health on http:\/\/127\.0\.0\.1:(\d+)/.test(err.text),
    );
    const port = Number(/metrics and health on http:\/\/127\.0\.0\.1:(\d+)/.exec(err.text)![1]);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const name of [
      'cfas_events_fetched_total',
      'cfas_events_shipped_total{account="0123456789abcdef0123456789abcdef",output="archive"} 120',
      'cfas_api_requests_total{status="200"}',
      'cfas_api_requests_total{status="403"} 1',
      'cfas_checkpoint_lag_seconds',
      'cfas_last_successful_poll_timestamp_seconds',
      'cfas_api_cooldown_seconds 0',
      'cfas_process_resident_memory_bytes',
      'cfas_events_deduplicated_total',
      'cfas_hec_ack_latency_seconds',
      'cfas_syslog_reconnects_total',
      'cfas_events_dead_lettered_total',
    ]) {
      assert.ok(metrics.includes(name), `metrics has ${name}`);
    }
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    assert.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404);

    renameSync(file, `${file}.1`);
    child.kill('SIGHUP');
    await waitFor(() => err.text.includes('SIGHUP: reopening'));
    const later = spreadEvents(10, Date.now(), Date.now() + 200, 84); // after the checkpoint: new, not late
    api.addEvents(ACCOUNT_A, later);
    await waitFor(() => readLines(file).length === 10);
    assert.equal(readLines(`${file}.1`).length, 120);
    child.kill('SIGTERM');
    const [code] = (await exit) as [number];
    assert.equal(code, 0);
    assert.match(err.text, /code 10000/);
    assert.ok(!err.text.includes(TOKEN), 'the API token never appears in the logs');
    assert.match(err.text, /\[REDACTED\]/);
  });

  it('/healthz is 503 with a reason when an output falls behind alert_lag; logs say so', async () => {
    hec = await new HecSimulator({ ack: false }).start();
    const port = hec.port;
    await hec.outage();
    const now = Date.now();
    api.addEvents(ACCOUNT_A, spreadEvents(20, now - 30 * 60_000, now - 20_000, 85));
    const dir = tempDir();
    const config = writeConfig(dir, {
      baseUrl: api.baseUrl,
      token: TOKEN,
      statePath: join(dir, 'state.json'),
      outputs: `  - { name: splunk, type: splunk_hec, url: "http://127.0.0.1:${port}", token: "t" }`,
      extra: 'daemon: { alert_lag: 2s }\nmetrics: { listen: "127.0.0.1:0" }\n',
    });
    const child = spawnCli(['run', '--config', config]);
    const err = stderrOf(child);
    const exit = once(child, 'exit');
    await waitFor(() => /metrics and health on http:\/\/127\.0\.0\.1:(\d+)/.test(err.text));
    const metricsPort = Number(/metrics and health on http:\/\/127\.0\.0\.1:(\d+)/.exec(err.text)![1]);
    await new Promise((r) => setTimeout(r, 2500));
    const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    assert.equal(health.status, 503);
    const body = (await health.json()) as { status: string; reasons: string[] };
    assert.equal(body.status, 'unhealthy');
    assert.match(body.reasons[0]!, /output splunk has no checkpoint for account/);
    child.kill('SIGTERM');
    await exit;
  });
});

describe('run (the daemon): self-monitoring', function () {
  this.timeout(60_000);

  it('warns past alert_lag and shouts when the lag nears the account retention', async () => {
    const api = await new AccessApiSimulator({ token: TOKEN }).start();
    const hec = await new HecSimulator().start();
    const port = hec.port;
    await hec.outage();
    try {
      const now = Date.now();
      api.addEvents(ACCOUNT_A, spreadEvents(5, now - 5 * 60_000, now - 20_000, 86));
      const dir = tempDir();
      const state = join(dir, 'state.json');
      const config = writeConfig(dir, {
        baseUrl: api.baseUrl,
        token: TOKEN,
        statePath: state,
        lookback: '1h',
        accounts: [{ id: ACCOUNT_A, name: 'corp' }],
        outputs: `  - { name: behind, type: splunk_hec, url: "http://127.0.0.1:${port}", token: "t" }\n  - { name: lagging, type: splunk_hec, url: "http://127.0.0.1:${port}", token: "t" }`,
        extra: 'daemon: { alert_lag: 10m }\n',
      });
      const { writeFileSync } = await import('node:fs');
      writeFileSync(
        config,
        readFileSync(config, 'utf8').replace('  page_size: 100', '  page_size: 100\n  retention: 1h'),
      );
      const at = (minutesAgo: number) =>
        new Date(now - minutesAgo * 60_000)
          .toISOString()
          .replace('Z', '000000Z')
          .replace(/\.(\d{3})000000Z$/, '.$1000000Z');
      writeFileSync(
        state,
        JSON.stringify({
          version: 1,
          sinks: {},
          api: {},
          accounts: {
            [ACCOUNT_A]: {
              outputs: {
                behind: { checkpoint: at(50), dedup: {}, delivered: 0 },
                lagging: { checkpoint: at(20), dedup: {}, delivered: 0 },
              },
            },
          },
        }),
      );
      const child = spawnCli(['run', '--config', config]);
      const err = stderrOf(child);
      const exit = once(child, 'exit');
      await waitFor(() => err.text.includes('close to Cloudflare') && err.text.includes('(alert_lag 10m)'), 40_000);
      child.kill('SIGTERM');
      await exit;
      assert.match(
        err.text,
        /error output behind is 50m\d*s? behind for account corp, close to Cloudflare's retention of 1h: events older than that are gone for good/,
      );
      assert.match(err.text, /warn output lagging is 20m\d*s? behind for account corp \(alert_lag 10m\)/);
    } finally {
      await api.stop();
      await hec.stop();
    }
  });
});
