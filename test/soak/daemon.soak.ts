/**
 * Soak test (not part of `npm test`): `npm run soak` (SOAK_MINUTES, default 10). The daemon polls
 * every 5 s while the simulator adds events continuously (some of them late), and the HEC output is
 * down for the middle fifth of the run (2 minutes of 10). At the end: zero lost, zero duplicated,
 * and the RSS at the end is printed next to the RSS after warm-up.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import { spawnCli } from '../support/cli.js';
import { HecSimulator } from '../support/hec-simulator.js';
import { ACCOUNT_A, exactlyOnceReport, tempDir, writeConfig } from '../support/harness.js';
import type { AccessEvent } from '../../src/datasets/access-requests/event.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`soak: the daemon for ${MINUTES} minute(s)`, function () {
  this.timeout(0);
  before(function () {
    if (process.env.SOAK !== '1' && process.env.SOAK_MINUTES === undefined) this.skip();
  });

  it('loses and duplicates nothing through an output outage, with flat memory', async () => {
    const api = await new AccessApiSimulator().start();
    const hec = await new HecSimulator({ ack: true, ackDelayMs: 200, countOnly: false }).start();
    const hecPort = hec.port;
    const dir = tempDir('soak-');
    const config = writeConfig(dir, {
      baseUrl: api.baseUrl,
      statePath: join(dir, 'state.json'),
      pageSize: 100,
      settle: '5s',
      overlap: '3m',
      lookback: '10m',
      outputs: `  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", ack: true, ack_poll_interval: 500ms }`,
      extra: 'daemon: { alert_lag: 5m }\nmetrics: { listen: "127.0.0.1:0" }\n',
    });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      config,
      readFileSync(config, 'utf8')
        .replace('poll:\n', 'poll:\n  schedule: "*/5 * * * * *"\n')
        .replace('log: { level: debug }', 'log: { level: info }'),
    );
    const expected: AccessEvent[] = [];
    let seed = 1000;
    const child = spawnCli(['run', '--config', config]);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = once(child, 'exit');
    const totalMs = MINUTES * 60_000;
    const start = Date.now();
    let startRss = 0;
    let quarterRss = 0;
    let outage = false;
    let maxRss = 0;
    const samples: string[] = [];
    let lastSample = 0;
    const heapUsed = async (): Promise<number> => {
      const port = /metrics and health on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)?.[1];
      if (port === undefined) return NaN;
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return Number(/^cfas_nodejs_heap_size_used_bytes (\d+)/m.exec(text)?.[1]) / 1048576;
    };
    try {
      while (Date.now() - start < totalMs) {
        const now = Date.now();
        // 40 events a second, created in the last 20 s; one batch in five shows up 8 s late.
        const batch = spreadEvents(20, now - 20_000, now - 1_000, seed++);
        const late = seed % 5 === 0;
        api.addEvents(ACCOUNT_A, batch, late ? { visibleAt: now + 8_000 } : {});
        expected.push(...batch);
        const elapsed = now - start;
        if (!outage && elapsed > totalMs * 0.4 && elapsed < totalMs * 0.6) {
          outage = true;
          // Splunk going down the way a restart does: requests in flight get their answer first.
          // (A cut mid-request can duplicate that one batch: HEC is at-least-once; see README.)
          await hec.outage({ graceful: true });
          console.log(`      ${Math.round(elapsed / 1000)} s: HEC down`);
        } else if (outage && elapsed >= totalMs * 0.6) {
          outage = false;
          await hec.start(hecPort);
          console.log(`      ${Math.round(elapsed / 1000)} s: HEC back`);
        }
        if (startRss === 0 && elapsed > 30_000) startRss = rssMiB(child.pid!);
        if (quarterRss === 0 && elapsed > totalMs / 4) quarterRss = rssMiB(child.pid!);
        if (elapsed > 30_000) maxRss = Math.max(maxRss, rssMiB(child.pid!));
        if (now - lastSample >= 30_000) {
          lastSample = now;
          samples.push(
            `${Math.round(elapsed / 1000)}s rss ${rssMiB(child.pid!).toFixed(0)} heap ${(await heapUsed()).toFixed(0)}`,
          );
        }
        await sleep(500);
      }
      // Let the daemon catch up: settle, late arrivals, one more poll.
      const deadline = Date.now() + 120_000;
      while (hec.events.length < expected.length && Date.now() < deadline) await sleep(1000);
      await sleep(12_000);
      const endRss = rssMiB(child.pid!);
      child.kill('SIGTERM');
      const [code] = (await exit) as [number];
      assert.equal(code, 0, stderr.slice(-2000));
      const report = exactlyOnceReport(
        hec.events.map((e) => JSON.stringify(e.event)),
        expected,
      );
      console.log(
        `      ${expected.length} events added over ${MINUTES} min; HEC has ${report.total}; missing ${report.missing}, duplicated ${report.duplicated}`,
      );
      console.log(
        `      RSS 30 s in ${startRss.toFixed(1)} MiB, a quarter in ${quarterRss.toFixed(1)} MiB, at the end ${endRss.toFixed(1)} MiB, highest ${maxRss.toFixed(1)} MiB`,
      );
      console.log(`      samples (MiB): ${samples.join(' | ')}`);
      assert.deepEqual(report, { missing: 0, duplicated: 0, unexpected: 0, total: expected.length });
      // Flat: after warm-up (the first quarter) the RSS may not keep growing.
      assert.ok(
        endRss < quarterRss * 1.25,
        `RSS grew from ${quarterRss.toFixed(1)} (a quarter in) to ${endRss.toFixed(1)} MiB`,
      );
    } finally {
      child.kill('SIGKILL');
      await api.stop();
      await hec.stop();
    }
  });
});
