/**
 * The daemon's commands behind a corporate proxy, driven through the environment as a systemd
 * unit would (`Environment=HTTPS_PROXY=…`): the Cloudflare API and HEC both over https through a
 * real local proxy requiring credentials, NO_PROXY, `proxy: none`, `check` and `validate` saying
 * which way each client goes, and a proxy set wrong.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import { runCli } from '../support/cli.js';
import { ConnectProxy } from '../support/connect-proxy.js';
import { ACCOUNT_A, exactlyOnceReport, tempDir, writeConfig } from '../support/harness.js';
import { HecSimulator } from '../support/hec-simulator.js';
import { makePki, type TestPki } from '../support/tls-certs.js';

const PASSWORD = 'Corp-Pr0xy-Secret';
const EVENTS = 3000;

describe('behind an HTTP proxy (environment, NO_PROXY, proxy: none)', function () {
  this.timeout(120_000);
  let pki: TestPki;
  let api: AccessApiSimulator;
  let hec: HecSimulator;
  let proxy: ConnectProxy;
  const day = Date.parse('2024-05-06T00:00:00Z');
  const events = spreadEvents(EVENTS, day, day + 6 * 3600_000, 13);
  before(() => {
    pki = makePki(tempDir('proxy-e2e-'));
  });
  beforeEach(async () => {
    api = await new AccessApiSimulator({
      tls: { key: pki.read(pki.serverKey), cert: pki.read(pki.serverCert) },
    }).start();
    api.addEvents(ACCOUNT_A, events);
    hec = await new HecSimulator({
      ack: true,
      ackDelayMs: 20,
      tls: { key: pki.read(pki.serverKey), cert: pki.read(pki.serverCert) },
    }).start();
    proxy = await new ConnectProxy(`svc-shipper:${PASSWORD}`).start();
  });
  afterEach(async () => {
    await Promise.all([api.stop(), hec.stop(), proxy.stop()]);
  });

  function config(extra: { cloudflare?: string; hec?: string } = {}): string {
    const dir = tempDir();
    const path = writeConfig(dir, {
      baseUrl: api.baseUrl,
      statePath: join(dir, 'state.json'),
      pageSize: 1000,
      outputs: `  - { name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", format: json, ack: true, ack_poll_interval: 100ms, tls: { ca_file: "${pki.caCert}" }${extra.hec ?? ''} }`,
    });
    if (extra.cloudflare === undefined) return path;
    // One more key under cloudflare:, right after base_url.
    writeFileSync(path, readFileSync(path, 'utf8').replace(/^( {2}base_url: .*)$/m, `$1\n  ${extra.cloudflare}`));
    return path;
  }

  // The API's certificate is signed by the test CA: trusted the way a user trusts a TLS-inspecting proxy's CA.
  const env = (more: Record<string, string> = {}) => ({
    NODE_EXTRA_CA_CERTS: pki.caCert,
    HTTPS_PROXY: proxy.urlWith('svc-shipper', PASSWORD),
    NO_PROXY: '',
    no_proxy: '',
    https_proxy: '',
    ...more,
  });
  const backfill = (path: string, more?: Record<string, string>) =>
    runCli(['backfill', '--since', '2024-05-06T00:00:00Z', '--until', '2024-05-06T06:00:00Z', '--config', path], {
      env: env(more),
      timeoutMs: 90_000,
    });

  it('HTTPS_PROXY with credentials: the API and HEC both through CONNECT tunnels, every event once, the password nowhere', async () => {
    const result = await backfill(config());
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const report = exactlyOnceReport(
      hec.events.map((e) => JSON.stringify(e.event)),
      events,
    );
    const tunnels = proxy.connects();
    console.log(
      `      sent ${EVENTS}, indexed ${hec.events.length}, duplicated ${report.duplicated}, lost ${report.missing}; tunnels: ${tunnels.length} (API ${tunnels.filter((t) => t.endsWith(`:${api.port}`)).length}, HEC ${tunnels.filter((t) => t.endsWith(`:${hec.port}`)).length}) for ${api.requests.length} API and ${hec.requests.length} HEC requests`,
    );
    assert.deepEqual(report, { missing: 0, duplicated: 0, unexpected: 0, total: EVENTS });
    assert.ok(tunnels.includes(`127.0.0.1:${api.port}`), 'the API went through the proxy');
    assert.ok(tunnels.includes(`127.0.0.1:${hec.port}`), 'HEC went through the proxy');
    assert.ok(tunnels.length <= 2 + 8 * 2, `tunnels are reused (${tunnels.length})`);
    assert.doesNotMatch(result.stderr + result.stdout, new RegExp(PASSWORD));
    // Said once at start, for each client, without the credentials.
    assert.match(
      result.stderr,
      new RegExp(
        `Cloudflare API https://127\\.0\\.0\\.1:${api.port} via proxy http://\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port} \\(HTTPS_PROXY\\)`,
      ),
    );
    assert.match(
      result.stderr,
      new RegExp(
        `output splunk: https://127\\.0\\.0\\.1:${hec.port} via proxy http://\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port} \\(HTTPS_PROXY\\)`,
      ),
    );
  });

  it('NO_PROXY exempts HEC, outputs.<name>.proxy: none exempts it whatever the environment says', async () => {
    const exempt = await backfill(config(), { NO_PROXY: `localhost,127.0.0.1:${hec.port}` });
    assert.equal(exempt.code, 0, exempt.stderr.slice(-2000));
    assert.equal(hec.events.length, EVENTS);
    assert.ok(
      proxy.connects().length > 0 && proxy.connects().every((t) => t === `127.0.0.1:${api.port}`),
      proxy.connects().join(' '),
    );
    const before = proxy.connects().length;
    const none = await backfill(config({ hec: ', proxy: none', cloudflare: 'proxy: none' }), { NO_PROXY: '' });
    assert.equal(none.code, 0, none.stderr.slice(-2000));
    assert.equal(proxy.connects().length, before, 'nothing went through the proxy');
  });

  it('check and validate say which way each client goes; check names the proxy without its password', async () => {
    const path = config();
    const check = await runCli(['check', '--config', path], { env: env({ NO_PROXY: `127.0.0.1:${hec.port}` }) });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(
      check.stdout,
      new RegExp(
        `✓ account ${ACCOUNT_A}: Access authentication logs readable .* via proxy http://\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port} \\(HTTPS_PROXY\\)`,
      ),
    );
    assert.match(check.stdout, /✓ output splunk \(splunk_hec\): HEC healthy/);
    assert.doesNotMatch(check.stdout, /output splunk.*via proxy/, 'HEC is exempt by NO_PROXY');
    const validate = await runCli(['validate', '--config', path], { env: env({ NO_PROXY: `127.0.0.1:${hec.port}` }) });
    assert.equal(validate.code, 0, validate.stderr);
    assert.match(
      validate.stdout,
      new RegExp(
        `network: Cloudflare API → https://127\\.0\\.0\\.1:${api.port} via proxy http://\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port} \\(HTTPS_PROXY\\)`,
      ),
    );
    assert.match(
      validate.stdout,
      new RegExp(
        `network: output splunk → https://127\\.0\\.0\\.1:${hec.port} direct \\(NO_PROXY lists 127\\.0\\.0\\.1:${hec.port}\\)`,
      ),
    );
    for (const text of [check.stdout, check.stderr, validate.stdout, validate.stderr])
      assert.doesNotMatch(text, new RegExp(PASSWORD));
  });

  it('a proxy without the credentials: the backfill stops with 407 and what to set; a SOCKS proxy is a config error (78)', async () => {
    const denied = await backfill(config(), { HTTPS_PROXY: proxy.url });
    assert.notEqual(denied.code, 0);
    assert.match(
      denied.stderr,
      /ERR_CF_PROXY|answered HTTP 407 Proxy Authentication Required for 127\.0\.0\.1:\d+: it wants credentials: put them in HTTPS_PROXY/,
    );
    assert.equal(hec.events.length, 0);
    assert.equal(api.requests.length, 0, 'nothing reached the API');
    const check = await runCli(['check', '--config', config()], { env: env({ HTTPS_PROXY: proxy.url }) });
    assert.notEqual(check.code, 0);
    assert.match(check.stdout, /fix: set the proxy credentials in HTTPS_PROXY/);
    const socks = await runCli(['validate', '--config', config()], {
      env: env({ HTTPS_PROXY: `socks5://svc:${PASSWORD}@127.0.0.1:1080` }),
    });
    assert.equal(socks.code, 78);
    assert.match(
      socks.stderr,
      /the environment variable HTTPS_PROXY uses socks5:\/\/, but only http:\/\/ and https:\/\/ proxies are supported/,
    );
    assert.doesNotMatch(socks.stderr, new RegExp(PASSWORD));
  });
});
