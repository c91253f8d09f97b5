import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import { runCli } from '../support/cli.js';
import { HecSimulator } from '../support/hec-simulator.js';
import { ACCOUNT_A, ACCOUNT_B, tempDir, writeConfig } from '../support/harness.js';
import { makePki, type TestPki } from '../support/tls-certs.js';
import { freePort } from '../support/rsyslog.js';
import { createServer as createTlsServer } from 'node:tls';

describe('check', function () {
  this.timeout(60_000);
  let api: AccessApiSimulator;
  let hec: HecSimulator;
  let pki: TestPki;
  const dir = tempDir('check-');
  before(() => {
    pki = makePki(dir);
  });
  beforeEach(async () => {
    api = await new AccessApiSimulator({ forbiddenAccounts: [ACCOUNT_B] }).start();
    hec = await new HecSimulator({
      ack: true,
      indexes: ['security', 'main'],
      disabledTokens: ['disabled-token'],
    }).start();
  });
  afterEach(async () => {
    await api.stop();
    await hec.stop();
  });

  function config(outputs: string, accounts = [{ id: ACCOUNT_A, name: 'corp' }], baseUrl = api.baseUrl): string {
    const d = tempDir();
    return writeConfig(d, { baseUrl, statePath: join(d, 'state.json'), accounts, outputs });
  }

  it('reports how many rows one response of the configured page size really holds', async () => {
    const capped = await new AccessApiSimulator({ paging: { mode: 'capped', cap: 37, offsetBy: 'asked' } }).start();
    try {
      capped.addEvents(ACCOUNT_A, spreadEvents(200, Date.now() - 3600_000, Date.now() - 60_000));
      const result = await runCli([
        'check',
        '--config',
        config(`  - { name: out, type: stdout }`, undefined, capped.baseUrl),
      ]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(
        result.stdout,
        /✓ account corp .*: Access authentication logs readable \(37 row\(s\) in one response for page_size 100 \(the API may cap responses below it; paging adapts\)/,
      );
      assert.deepEqual(
        capped.requests.map((r) => [r.perPage, r.limit]),
        [[100, 100]],
      );
    } finally {
      await capped.stop();
    }
  });

  it('all green: exit 0, one ✓ line per account and output', async () => {
    const sockets: import('node:tls').TLSSocket[] = [];
    const tls = createTlsServer({ key: pki.read(pki.serverKey), cert: pki.read(pki.serverCert) }, (s) => {
      sockets.push(s); // a syslog server keeps the connection open
      s.on('data', () => undefined);
    });
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    const tlsPort = (tls.address() as { port: number }).port;
    try {
      const result = await runCli([
        'check',
        '--config',
        config(
          [
            `  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", index: security, ack: true }`,
            `  - { name: siem, type: syslog, host: 127.0.0.1, port: ${tlsPort}, transport: tls, tls: { ca_file: ${pki.caCert} } }`,
            `  - { name: udp, type: syslog, host: 127.0.0.1, transport: udp }`,
            `  - { name: archive, type: file, path: ${join(tempDir(), 'a.ndjson')} }`,
          ].join('\n'),
        ),
      ]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(
        result.stdout,
        /✓ account corp \(0123456789abcdef0123456789abcdef\): Access authentication logs readable/,
      );
      assert.match(
        result.stdout,
        /✓ output splunk \(splunk_hec\): HEC healthy \(code 17\), token accepted, index security accepted, indexer acknowledgement enabled/,
      );
      assert.match(result.stdout, /✓ output siem \(syslog\): tls:\/\/127\.0\.0\.1:\d+ connected, certificate verified/);
      assert.match(result.stdout, /✓ output udp \(syslog\): .*fire-and-forget/);
      assert.match(result.stdout, /✓ output archive \(file\)/);
      assert.ok(!result.stdout.includes('✗'));
      assert.equal(hec.events.length, 0, 'the probes indexed nothing');
    } finally {
      for (const socket of sockets) socket.destroy();
      tls.close();
    }
  });

  it('an account without the permission, and an unreachable API: ✗ with the fix, exit 1', async () => {
    const forbidden = await runCli([
      'check',
      '--config',
      config('  - { name: c, type: stdout }', [{ id: ACCOUNT_B, name: 'lab' }]),
    ]);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stdout, /✗ account lab .*HTTP 403, code 10000/);
    assert.match(forbidden.stdout, /fix: give the API token the permission Account → "Access: Audit Logs Read"/);
    const port = await freePort();
    const unreachable = await runCli([
      'check',
      '--config',
      config('  - { name: c, type: stdout }', undefined, `http://127.0.0.1:${port}/client/v4`),
    ]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stdout, /✗ account corp .*ECONNREFUSED/);
    assert.match(unreachable.stdout, /fix: check that http:\/\/127\.0\.0\.1:\d+\/client\/v4 is reachable/);
  });

  for (const [name, output, pattern, fix] of [
    [
      'bad token',
      (h: HecSimulator) => `{ name: s, type: splunk_hec, url: "${h.url}", token: "wrong" }`,
      /code 4: Invalid token/,
      /fix: fix outputs\.s\.token/,
    ],
    [
      'disabled token',
      (h: HecSimulator) => `{ name: s, type: splunk_hec, url: "${h.url}", token: "disabled-token" }`,
      /code 1: Token disabled/,
      /fix: enable the HEC token/,
    ],
    [
      'wrong index',
      (h: HecSimulator) => `{ name: s, type: splunk_hec, url: "${h.url}", token: "${h.token}", index: nope }`,
      /code 7: Incorrect index/,
      /fix: set outputs\.s\.index/,
    ],
    [
      'unreachable HEC',
      () => '{ name: s, type: splunk_hec, url: "http://127.0.0.1:9", token: "x" }',
      /cannot reach http:\/\/127\.0\.0\.1:9/,
      /fix: check outputs\.s\.url/,
    ],
  ] as const) {
    it(`HEC ${name}: ✗ with the fix`, async () => {
      const result = await runCli(['check', '--config', config(`  - ${output(hec)}`)]);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stdout, pattern);
      assert.match(result.stdout, fix);
      assert.ok(!result.stdout.includes(hec.token) || name === 'bad token', 'no token in the output');
    });
  }

  it('HEC unhealthy, and ack: true against a token without acknowledgement: ✗', async () => {
    await hec.stop();
    hec = await new HecSimulator({ health: 18 }).start();
    const unhealthy = await runCli([
      'check',
      '--config',
      config(`  - { name: s, type: splunk_hec, url: "${hec.url}", token: "${hec.token}" }`),
    ]);
    assert.equal(unhealthy.code, 1);
    assert.match(unhealthy.stdout, /✗ output s \(splunk_hec\): HEC is not healthy \(HTTP 503, code 18/);
    await hec.stop();
    hec = await new HecSimulator({ ack: false }).start();
    const noAck = await runCli([
      'check',
      '--config',
      config(`  - { name: s, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", ack: true }`),
    ]);
    assert.equal(noAck.code, 1);
    assert.match(noAck.stdout, /indexer acknowledgement is disabled for this token \(code 14\)/);
    assert.match(
      noAck.stdout,
      /fix: enable "Indexer acknowledgement" on the token, or set outputs\.s\.ack to auto or false/,
    );
  });

  it('syslog: untrusted certificate, refused connection, and an unwritable file: ✗ with the fix', async () => {
    const tls = createTlsServer({ key: pki.read(pki.selfSignedKey), cert: pki.read(pki.selfSignedCert) }, (s) =>
      s.end(),
    );
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    const tlsPort = (tls.address() as { port: number }).port;
    const closed = await freePort();
    const notADir = join(tempDir(), 'plain-file');
    writeFileSync(notADir, 'x');
    try {
      const result = await runCli([
        'check',
        '--config',
        config(
          [
            `  - { name: untrusted, type: syslog, host: 127.0.0.1, port: ${tlsPort}, transport: tls, tls: { ca_file: ${pki.caCert} } }`,
            `  - { name: refused, type: syslog, host: 127.0.0.1, port: ${closed}, transport: tcp }`,
            `  - { name: archive, type: file, path: ${join(notADir, 'out.ndjson')} }`,
          ].join('\n'),
        ),
      ]);
      assert.equal(result.code, 1);
      assert.match(
        result.stdout,
        /✗ output untrusted \(syslog\): tls:\/\/127\.0\.0\.1:\d+: .*(self.signed|certificate)/i,
      );
      assert.match(result.stdout, /fix: set outputs\.untrusted\.tls\.ca_file/);
      assert.match(result.stdout, /✗ output refused \(syslog\): tcp:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
      assert.match(result.stdout, /✗ output archive \(file\): .*not writable \(ENOTDIR\)/);
    } finally {
      tls.close();
    }
  });
});
