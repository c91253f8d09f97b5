/**
 * Both HTTP clients through a real local proxy (the npm package `proxy`): CONNECT for https with
 * the target's certificate verified through the tunnel, absolute-URI forwarding for http, Basic
 * credentials from the proxy URL, and what a user reads when the proxy says 407.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { splunkHecOutput } from '../../src/config/outputs.js';
import { proxyRoute } from '../../src/net/proxy.js';
import { createLogger } from '../../src/ops/logger.js';
import { SplunkHecSink } from '../../src/sink/splunk-hec.js';
import type { DeliveryResult, OutputRecord } from '../../src/sink/types.js';
import { CloudflareClient } from '../../src/source/cloudflare-client.js';
import { RateLimiter } from '../../src/source/rate-limiter.js';
import { AccessApiSimulator, spreadEvents } from '../support/access-api-simulator.js';
import { ConnectProxy } from '../support/connect-proxy.js';
import { ACCOUNT_A, tempDir } from '../support/harness.js';
import { HecSimulator } from '../support/hec-simulator.js';
import { ACCOUNT, ALLOWED_LOGIN } from '../support/sample-events.js';
import { makePki, type TestPki } from '../support/tls-certs.js';

const PASSWORD = 'pr0xy p@ss:word';
const message = (r: DeliveryResult): string => ('error' in r ? r.error.message : '');
let nextId = 0;
const records = (n: number): OutputRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `p${nextId++}`,
    text: JSON.stringify({ ...ALLOWED_LOGIN, user_email: `p${i}@example.com` }),
    event: ALLOWED_LOGIN,
    epochMs: 1714557600123 + i,
    accountId: ACCOUNT,
  }));

describe('net/proxy-agent: the HEC output and the Cloudflare client through a real proxy', function () {
  this.timeout(30_000);
  let pki: TestPki;
  let proxy: ConnectProxy;
  let logs = '';
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => (logs += d.toString()));
  const logger = createLogger({ level: 'debug', format: 'text', stream });
  before(() => {
    pki = makePki(tempDir('proxy-tls-'));
  });
  beforeEach(async () => {
    logs = '';
    proxy = await new ConnectProxy(`shipper:${PASSWORD}`).start();
  });
  afterEach(async () => {
    await proxy.stop();
  });

  function hecSink(hec: HecSimulator, extra: Record<string, unknown>): SplunkHecSink {
    const config = splunkHecOutput.parse({
      name: 'splunk',
      type: 'splunk_hec',
      url: hec.url,
      token: hec.token,
      ack_poll_interval: '100ms',
      ...extra,
    });
    return new SplunkHecSink('splunk', config, { logger });
  }

  it('HEC over https: a CONNECT tunnel with credentials, the indexer certificate verified end to end', async () => {
    const hec = await new HecSimulator({
      ack: true,
      tls: { key: pki.read(pki.serverKey), cert: pki.read(pki.serverCert) },
    }).start();
    try {
      const sink = hecSink(hec, { proxy: proxy.urlWith('shipper', PASSWORD), tls: { ca_file: pki.caCert } });
      await sink.open();
      assert.deepEqual(await sink.deliver(records(20)), { status: 'delivered' });
      assert.deepEqual(await sink.deliver(records(20)), { status: 'delivered' });
      await sink.close();
      assert.equal(hec.events.length, 40);
      const tunnels = proxy.connects();
      console.log(
        `      40 events through ${tunnels.length} tunnel(s) to ${tunnels[0] ?? '-'}; ${hec.requests.length} requests (events and acks) kept alive through them`,
      );
      assert.ok(tunnels.length >= 1 && tunnels.every((t) => t === `127.0.0.1:${hec.port}`));
      assert.ok(tunnels.length < hec.requests.length, 'tunnels are kept alive and reused');
      assert.doesNotMatch(logs, /pr0xy|p%40ss/);
    } finally {
      await hec.stop();
    }
  });

  it('HEC over https: an untrusted indexer certificate is refused through the tunnel too (the proxy cannot stand in)', async () => {
    const hec = await new HecSimulator({
      tls: { key: pki.read(pki.selfSignedKey), cert: pki.read(pki.selfSignedCert) },
    }).start();
    try {
      const sink = hecSink(hec, { proxy: proxy.urlWith('shipper', PASSWORD), tls: { ca_file: pki.caCert } });
      await sink.open();
      const result = await sink.deliver(records(1));
      await sink.close();
      assert.equal(result.status, 'fatal');
      assert.match(message(result), /certificate is not trusted/);
      assert.deepEqual(proxy.connects(), [`127.0.0.1:${hec.port}`], 'the tunnel was open: TLS failed inside it');
      assert.equal(hec.events.length, 0);
    } finally {
      await hec.stop();
    }
  });

  it('HEC: 407 without credentials or with wrong ones stops the output with what to do, never showing the password', async () => {
    const hec = await new HecSimulator({
      tls: { key: pki.read(pki.serverKey), cert: pki.read(pki.serverCert) },
    }).start();
    try {
      for (const [url, expected] of [
        [
          proxy.url,
          /the proxy http:\/\/127\.0\.0\.1:\d+ answered HTTP 407 Proxy Authentication Required for 127\.0\.0\.1:\d+: it wants credentials: put them in outputs\.splunk\.proxy/,
        ],
        [
          proxy.urlWith('shipper', 'wrong-Secret-1'),
          /the proxy http:\/\/\*\*\*@127\.0\.0\.1:\d+ answered HTTP 407 .*it refused the credentials in outputs\.splunk\.proxy/,
        ],
      ] as const) {
        const sink = hecSink(hec, { proxy: url, tls: { ca_file: pki.caCert } });
        await sink.open();
        const result = await sink.deliver(records(1));
        await sink.close();
        assert.equal(result.status, 'fatal', message(result));
        assert.match(message(result), expected);
        assert.doesNotMatch(message(result), /wrong-Secret-1/);
      }
      assert.equal(hec.events.length, 0);
      // Over plain http the proxy forwards the request itself, and its 407 is the answer.
      const plain = await new HecSimulator().start();
      try {
        const sink = hecSink(plain, { proxy: proxy.url });
        await sink.open();
        const result = await sink.deliver(records(1));
        await sink.close();
        assert.equal(result.status, 'fatal');
        assert.match(
          message(result),
          /HTTP 407.*wants credentials \(or refused them\): put them in outputs\.splunk\.proxy/,
        );
      } finally {
        await plain.stop();
      }
    } finally {
      await hec.stop();
    }
  });

  it('HEC over http: requests forwarded by the proxy (absolute URI), credentials accepted', async () => {
    const hec = await new HecSimulator({ ack: true }).start();
    try {
      const sink = hecSink(hec, { proxy: proxy.urlWith('shipper', PASSWORD) });
      await sink.open();
      assert.deepEqual(await sink.deliver(records(10)), { status: 'delivered' });
      await sink.close();
      assert.equal(hec.events.length, 10);
      assert.ok(
        proxy.forwarded().some((u) => u === `${hec.url}/services/collector/event`),
        proxy.forwarded().join(' '),
      );
      assert.ok(proxy.forwarded().some((u) => u === `${hec.url}/services/collector/ack`));
      assert.deepEqual(proxy.connects(), []);
    } finally {
      await hec.stop();
    }
  });

  it('the Cloudflare client: pages through the proxy; 407 is ERR_CF_PROXY, not retried', async () => {
    const api = await new AccessApiSimulator().start();
    try {
      const day = Date.parse('2024-05-02T00:00:00Z');
      api.addEvents(ACCOUNT_A, spreadEvents(30, day, day + 3600_000, 5));
      const request = {
        accountId: ACCOUNT_A,
        accountLabel: 'a',
        since: '2024-05-02T00:00:00.000Z',
        until: '2024-05-02T02:00:00.000Z',
        page: 1,
        perPage: 1000,
      };
      const client = (url: string) =>
        new CloudflareClient({
          baseUrl: api.baseUrl,
          auth: { kind: 'token', token: api.token },
          requestTimeoutMs: 5000,
          limiter: new RateLimiter({ requests: 100, perMs: 1000 }),
          maxAttempts: 3,
          backoff: { baseMs: 10, capMs: 20 },
          proxy: proxyRoute(api.baseUrl, undefined, 'cloudflare.proxy', { HTTP_PROXY: url }),
        });
      const good = client(proxy.urlWith('shipper', PASSWORD));
      const page = await good.fetchPage(request);
      good.close();
      assert.equal(page.events.length, 30);
      assert.equal(page.requests, 1);
      assert.ok(proxy.forwarded()[0]?.startsWith(`${api.baseUrl}/accounts/${ACCOUNT_A}/access/logs/access_requests?`));
      const before = api.requests.length;
      const denied = client(proxy.url);
      await assert.rejects(denied.fetchPage(request), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'ERR_CF_PROXY');
        assert.match(
          error.message,
          /answered HTTP 407 .* it wants credentials: put them in HTTP_PROXY \(http:\/\/user:password@host:port/,
        );
        return true;
      });
      denied.close();
      assert.equal(proxy.log.filter((l) => !l.authorized).length, 1, 'asked once: a 407 is not retried');
      assert.equal(api.requests.length, before);
    } finally {
      await api.stop();
    }
  });
});
