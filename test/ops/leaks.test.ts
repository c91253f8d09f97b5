/**
 * Nothing a peer or a URL carries can leak or forge (issue: output isolation, item 6): URL
 * credentials never reach a log, the state, status or check; peer text cannot forge a log line or
 * reach a terminal as an escape sequence; the metrics endpoint can be locked and cannot be flooded.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { exposureWarning, startOpsServer } from '../../src/ops/http-server.js';
import { maskUrlCredentials, safeText } from '../../src/safe-text.js';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import { runCli } from '../support/cli.js';
import { ACCOUNT_A, tempDir, waitFor, writeConfig } from '../support/harness.js';

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe('nothing a peer or a URL carries can leak or forge', function () {
  this.timeout(60_000);

  it('masks URL userinfo and escapes control characters (unit)', () => {
    assert.equal(
      maskUrlCredentials('POST https://admin:hunter2@splunk:8088/services failed'),
      'POST https://***@splunk:8088/services failed',
    );
    assert.equal(
      maskUrlCredentials('a@b.example and mailto:x@y'),
      'a@b.example and mailto:x@y',
      'e-mail addresses are not URLs',
    );
    assert.equal(
      safeText('bad\n2026-01-01T00:00:00Z info forged\u001b[2J'),
      'bad\\n2026-01-01T00:00:00Z info forged\\x1b[2J',
    );
    assert.match(safeText('x'.repeat(5000), 100), /^x{100}… \(4900 more characters\)$/);
  });

  it('a HEC url with a password and a hostile Cloudflare error: no password and no forged line in logs, state, status (text and JSON) or check', async () => {
    const hostile =
      'Authentication error\n2026-01-01T00:00:00.000Z info account all good: shipped everything\u001b[2J\u001b[31m';
    const sim = await new AccessApiSimulator({ forbiddenAccounts: [ACCOUNT_A], forbiddenMessage: hostile }).start();
    try {
      const dir = tempDir();
      const statePath = join(dir, 'state.json');
      const config = writeConfig(dir, {
        baseUrl: sim.baseUrl,
        statePath,
        accounts: [{ id: ACCOUNT_A }, { id: 'fedcba9876543210fedcba9876543210' }],
        outputs:
          '  - { name: splunk, type: splunk_hec, url: "http://admin:s3cretpassw0rd@127.0.0.1:9/services/collector", token: "11111111-2222-3333-4444-555555555555", request_timeout: 1s }',
      });
      sim.addEvents('fedcba9876543210fedcba9876543210', spreadEvents(5, Date.now() - 600_000, Date.now() - 5000, 1));
      const run = await runCli(['run', '--once', '--config', config]);
      assert.equal(run.code, 1);
      const state = readFileSync(statePath, 'utf8');
      const statusText = await runCli(['status', '--config', config]);
      const statusJson = await runCli(['status', '--json', '--config', config]);
      const check = await runCli(['check', '--config', config]);
      const places = {
        'run log': run.stderr,
        state,
        'status text': statusText.stdout,
        'status json': statusJson.stdout,
        check: check.stdout + check.stderr,
      };
      for (const [place, text] of Object.entries(places)) {
        assert.ok(!text.includes('s3cretpassw0rd'), `password in ${place}`);
        assert.ok(!RAW_CONTROL.test(text), `raw control character in ${place}`);
        assert.ok(!/^2026-01-01T00:00:00\.000Z info account all good/m.test(text), `forged log line in ${place}`);
      }
      assert.match(
        run.stderr,
        /Authentication error\\n2026-01-01T00:00:00\.000Z info account all good: shipped everything\\x1b\[2J/,
      );
      assert.match(run.stderr + state, /\*\*\*@127\.0\.0\.1:9/);
      console.log(
        `      checked ${Object.keys(places).length} places: no password, no raw control character, no forged line`,
      );
    } finally {
      await sim.stop();
    }
  });

  it('metrics: a bearer token is required when set; idle connections are capped and closed', async () => {
    const server = await startOpsServer(
      { host: '127.0.0.1', port: 0 },
      new Registry(),
      () => ({ healthy: true, reasons: [], outputs: [] }),
      { token: 'metrics-secret-token', maxConnections: 8, idleTimeoutMs: 500 },
    );
    const sockets: Socket[] = [];
    try {
      const base = `http://127.0.0.1:${server.port}`;
      assert.equal((await fetch(`${base}/metrics`)).status, 401);
      assert.equal(
        (await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong-token-of-same-len' } })).status,
        401,
      );
      assert.equal(
        (await fetch(`${base}/healthz`, { headers: { authorization: 'Bearer metrics-secret-token' } })).status,
        200,
      );
      // A flood of idle connections: at most 8 are kept, and those are closed after the idle timeout.
      let closed = 0;
      for (let i = 0; i < 100; i++) {
        const socket = connect(server.port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.on('close', () => closed++);
        sockets.push(socket);
      }
      await waitFor(() => closed >= 92, 5000);
      await waitFor(() => closed === 100, 5000);
      console.log(`      100 idle connections: ${closed} closed by the server (cap 8, idle timeout 0.5 s)`);
      assert.equal(
        (await fetch(`${base}/healthz`, { headers: { authorization: 'Bearer metrics-secret-token' } })).status,
        200,
        'served again once the flood is gone',
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await server.close();
    }
  });

  it('warns when metrics listen beyond loopback, louder without a token (the daemon logs this at start)', () => {
    assert.equal(exposureWarning({ host: '127.0.0.1', port: 9464 }, undefined), undefined);
    assert.equal(exposureWarning({ host: '::1', port: 9464 }, undefined), undefined);
    assert.match(
      exposureWarning({ host: '0.0.0.0', port: 9464 }, undefined) ?? '',
      /0\.0\.0\.0:9464, beyond this machine: .* without any authentication; set metrics\.token/,
    );
    assert.match(
      exposureWarning({ host: '10.0.0.5', port: 9464 }, 'secret') ?? '',
      /beyond this machine: .*\(metrics\.token is required\)/,
    );
  });
});
