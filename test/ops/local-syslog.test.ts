import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import TransportStream from 'winston-transport';
import { GuardedSyslogTransport } from '../../src/ops/local-syslog.js';
import { healthReport } from '../../src/ops/health.js';
import { tempDir } from '../support/harness.js';

const require = createRequire(import.meta.url);
const unixDgram = require('unix-dgram') as {
  createSocket(type: 'unix_dgram', listener?: (msg: Buffer) => void): { bind(path: string): void; close(): void };
};

class FakeInner extends TransportStream {
  calls = 0;
  constructor(private readonly failOn: number) {
    super();
  }
  override log(_info: unknown, next: () => void): void {
    this.calls++;
    if (this.calls === this.failOn) this.emit('error', new Error('send ECONNREFUSED'));
    next();
  }
}

describe('ops/local-syslog GuardedSyslogTransport', () => {
  it('drops an instance at its first error, never reuses it, and tries a fresh one after the retry delay', async () => {
    const dir = tempDir();
    const path = join(dir, 'log.sock');
    const server = unixDgram.createSocket('unix_dgram');
    server.bind(path);
    const made: FakeInner[] = [];
    const guard = new GuardedSyslogTransport({ path, facility: 'daemon', app_name: 'x', retryMs: 50 }, () => {
      const inner = new FakeInner(2);
      made.push(inner);
      return Promise.resolve(inner);
    });
    const log = () => new Promise<void>((resolve) => guard.log({ level: 'info', message: 'm' }, resolve));
    await log(); // creates the first instance (asynchronously)
    await new Promise((r) => setTimeout(r, 5));
    await log(); // first instance, call 1
    await log(); // call 2: error → dropped
    await log(); // within the retry delay: dropped message, no instance
    assert.equal(made.length, 1);
    assert.equal(made[0]!.calls, 2, 'never used after its error');
    await new Promise((r) => setTimeout(r, 60));
    await log();
    await new Promise((r) => setTimeout(r, 5));
    await log();
    assert.equal(made.length, 2, 'a fresh instance after the delay');
    assert.equal(made[1]!.calls, 1);
    assert.deepEqual(guard.problems, ['send ECONNREFUSED']);
    server.close();
  });

  it('does not even try while the path is not a socket', async () => {
    let made = 0;
    const guard = new GuardedSyslogTransport(
      { path: '/nonexistent/log.sock', facility: 'daemon', app_name: 'x' },
      () => {
        made++;
        return Promise.resolve(new FakeInner(99));
      },
    );
    await new Promise<void>((resolve) => guard.log({ level: 'info', message: 'm' }, resolve));
    assert.equal(made, 0);
    assert.match(guard.problems[0]!, /is not a socket/);
  });
});

describe('ops/health', () => {
  const account = { id: 'a', label: 'corp', retentionMs: 86_400_000 };
  const state = (checkpoint: string) => ({
    version: 1 as const,
    accounts: { a: { outputs: { out: { checkpoint, dedup: {}, delivered: 1 } } } },
    sinks: {},
    api: {},
  });
  const now = Date.parse('2024-05-01T12:00:00Z');

  it('is healthy within alert_lag and names the output, lag and retention risk otherwise', () => {
    const ok = healthReport({
      state: state('2024-05-01T11:55:00.000000000Z'),
      accounts: [account],
      outputs: ['out'],
      alertLagMs: 30 * 60_000,
      nowMs: now,
      startedAtMs: now - 3_600_000,
    });
    assert.equal(ok.healthy, true);
    assert.equal(ok.outputs[0]!.lag_seconds, 300);
    const late = healthReport({
      state: state('2024-04-30T17:00:00.000000000Z'),
      accounts: [account],
      outputs: ['out'],
      alertLagMs: 30 * 60_000,
      nowMs: now,
      startedAtMs: now - 3_600_000,
    });
    assert.equal(late.healthy, false);
    assert.match(
      late.reasons[0]!,
      /output out is 19h behind for account corp \(alert_lag 30m; Cloudflare keeps only 1d: events are about to be lost\)/,
    );
  });

  it('gives a new output its first alert_lag to commit', () => {
    const fresh = { version: 1 as const, accounts: {}, sinks: {}, api: {} };
    assert.equal(
      healthReport({
        state: fresh,
        accounts: [account],
        outputs: ['out'],
        alertLagMs: 60_000,
        nowMs: now,
        startedAtMs: now - 10_000,
      }).healthy,
      true,
    );
    assert.equal(
      healthReport({
        state: fresh,
        accounts: [account],
        outputs: ['out'],
        alertLagMs: 60_000,
        nowMs: now,
        startedAtMs: now - 120_000,
      }).healthy,
      false,
    );
  });
});
