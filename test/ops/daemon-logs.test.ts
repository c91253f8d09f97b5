import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import { spawnCli } from '../support/cli.js';
import { ACCOUNT_A, tempDir, waitFor, writeConfig } from '../support/harness.js';

interface UnixDgramSocket {
  bind(path: string): void;
  close(): void;
}
const require = createRequire(import.meta.url);
const unixDgram = require('unix-dgram') as {
  createSocket(type: 'unix_dgram', listener: (msg: Buffer) => void): UnixDgramSocket;
};

describe('run (the daemon): its own logs', function () {
  this.timeout(60_000);
  let api: AccessApiSimulator;
  afterEach(async () => {
    await api.stop();
  });

  it('logs to the local syslog socket and a log file (reopened on SIGHUP); an overlapping tick is logged once', async () => {
    api = await new AccessApiSimulator({ latencyMs: 1500 }).start();
    const now = Date.now();
    api.addEvents(ACCOUNT_A, spreadEvents(10, now - 10 * 60_000, now - 20_000, 91));
    const dir = tempDir();
    const socketPath = join(dir, 'log.sock');
    const received: string[] = [];
    const socket = unixDgram.createSocket('unix_dgram', (msg) => received.push(msg.toString()));
    socket.bind(socketPath);
    const logFile = join(dir, 'shipper.log');
    const config = writeConfig(dir, {
      baseUrl: api.baseUrl,
      statePath: join(dir, 'state.json'),
      outputs: `  - { name: archive, type: file, path: ${join(dir, 'out.ndjson')}, format: json }`,
    });
    writeFileSync(
      config,
      readFileSync(config, 'utf8')
        .replace('poll:\n', 'poll:\n  schedule: "* * * * * *"\n')
        .replace(
          'log: { level: debug }',
          `log: { level: debug, file: ${logFile}, syslog: { path: ${socketPath}, facility: local3 } }`,
        ),
    );
    const child = spawnCli(['run', '--config', config]);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = once(child, 'exit');
    try {
      await waitFor(() => received.some((m) => m.includes('shipped archive=10')));
      assert.match(
        received.find((m) => m.includes('shipped archive=10'))!,
        /^<15\d>/,
        'local3 facility (19 × 8 = 152 + severity)',
      );
      await waitFor(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('shipped archive=10'));
      renameSync(logFile, `${logFile}.1`);
      child.kill('SIGHUP');
      await waitFor(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('account'));
      // Polls take 1.5 s with a tick every second: the skipped ticks are logged once.
      await new Promise((r) => setTimeout(r, 3500));
      const overlaps = stderr.split('\n').filter((l) => l.includes('still running'));
      if (overlaps.length > 2) console.log(overlaps.join('\n'));
      assert.ok(overlaps.length >= 1 && overlaps.length <= 2, `overlap logged ${overlaps.length} time(s)`);
      assert.ok(overlaps.every((l) => / debug /.test(l)));
    } finally {
      child.kill('SIGTERM');
      await exit;
      socket.close();
    }
  });

  it('a syslog socket that does not exist never stops the daemon', async () => {
    api = await new AccessApiSimulator().start();
    const now = Date.now();
    api.addEvents(ACCOUNT_A, spreadEvents(5, now - 10 * 60_000, now - 20_000, 92));
    const dir = tempDir();
    const out = join(dir, 'out.ndjson');
    const config = writeConfig(dir, {
      baseUrl: api.baseUrl,
      statePath: join(dir, 'state.json'),
      outputs: `  - { name: archive, type: file, path: ${out}, format: json }`,
    });
    writeFileSync(
      config,
      readFileSync(config, 'utf8').replace(
        'log: { level: debug }',
        `log: { level: info, syslog: { path: ${join(dir, 'missing.sock')} } }`,
      ),
    );
    const child = spawnCli(['run', '--config', config]);
    const exit = once(child, 'exit');
    await waitFor(() => existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 5);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(child.exitCode, null, 'still running');
    child.kill('SIGTERM');
    const [code] = (await exit) as [number];
    assert.equal(code, 0);
  });
});
