/**
 * The elasticsearch output through a real local proxy (the npm package `proxy`): a CONNECT tunnel
 * for https with the server's certificate verified inside it, absolute-URI forwarding for http,
 * credentials from the proxy URL (never shown), 407 stopping the output, NO_PROXY and `proxy: none`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { elasticsearchOutput } from '../../src/config/outputs.js';
import { eventHash } from '../../src/format/identity.js';
import { createLogger } from '../../src/ops/logger.js';
import { ElasticsearchSink } from '../../src/sink/elasticsearch.js';
import type { DeliveryResult, OutputRecord } from '../../src/sink/types.js';
import { ConnectProxy } from '../support/connect-proxy.js';
import { EsBulkSimulator } from '../support/es-bulk-simulator.js';
import { tempDir } from '../support/harness.js';
import { ACCOUNT, ALLOWED_LOGIN } from '../support/sample-events.js';
import { makePki, type TestPki } from '../support/tls-certs.js';

const PASSWORD = 'pr0xy p@ss:word';
const STREAM = 'logs-cloudflare_access.access_requests-default';
const message = (r: DeliveryResult): string => ('error' in r ? r.error.message : '');
let next = 0;
const records = (n: number): OutputRecord[] =>
  Array.from({ length: n }, () => {
    const event = { ...ALLOWED_LOGIN, ray_id: `proxied${next++}` };
    return { id: eventHash(event), text: JSON.stringify(event), event, epochMs: 1714557600123, accountId: ACCOUNT };
  });

describe('net/proxy: the elasticsearch output through a real proxy', function () {
  this.timeout(30_000);
  let pki: TestPki;
  let proxy: ConnectProxy;
  let sim: EsBulkSimulator;
  let logs = '';
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => (logs += d.toString()));
  const logger = createLogger({ level: 'debug', format: 'text', stream });
  before(() => {
    pki = makePki(tempDir('proxy-es-tls-'));
  });
  beforeEach(async () => {
    logs = '';
    proxy = await new ConnectProxy(`shipper:${PASSWORD}`).start();
  });
  afterEach(async () => {
    await proxy.stop();
    await sim.stop();
  });

  const https = () =>
    new EsBulkSimulator({ tls: { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) } }).start();

  async function deliver(
    extra: Record<string, unknown>,
    n: number,
    env: Record<string, string> = {},
    batches = 1,
  ): Promise<DeliveryResult[]> {
    const config = elasticsearchOutput.parse({ name: 'es', type: 'elasticsearch', url: sim.url, ...extra });
    const sink = new ElasticsearchSink('es', config, { logger, dataset: 'access_requests', env });
    const results: DeliveryResult[] = [];
    for (let i = 0; i < batches; i++) results.push(await sink.deliver(records(n)));
    await sink.close();
    return results;
  }

  it('https: a CONNECT tunnel with credentials, the server certificate verified end to end, kept alive', async () => {
    sim = await https();
    const results = await deliver(
      { proxy: proxy.urlWith('shipper', PASSWORD), tls: { ca_file: pki.caCert } },
      50,
      {},
      3,
    );
    const tunnels = proxy.connects();
    console.log(
      `      150 events in 3 bulk requests through ${tunnels.length} tunnel(s) to ${tunnels[0] ?? '-'}; stored ${sim.docs.length}`,
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ['delivered', 'delivered', 'delivered'],
      results.map(message).join(' '),
    );
    assert.equal(sim.streams.get(STREAM)?.size, 150);
    assert.ok(tunnels.length >= 1 && tunnels.every((t) => t === `127.0.0.1:${sim.port}`), tunnels.join(' '));
    assert.ok(tunnels.length < 3, 'the tunnel is reused');
    assert.doesNotMatch(logs, /pr0xy|p%40ss/);
  });

  it('https: an untrusted server certificate is refused inside the tunnel too', async () => {
    sim = await new EsBulkSimulator({
      tls: { key: readFileSync(pki.selfSignedKey), cert: readFileSync(pki.selfSignedCert) },
    }).start();
    const [result] = await deliver({ proxy: proxy.urlWith('shipper', PASSWORD), tls: { ca_file: pki.caCert } }, 1);
    assert.equal(result?.status, 'fatal');
    assert.match(message(result), /not trusted .*set tls\.ca_file/);
    assert.deepEqual(proxy.connects(), [`127.0.0.1:${sim.port}`], 'the tunnel was open: TLS failed inside it');
    assert.equal(sim.docs.length, 0);
  });

  it('407 without credentials or with wrong ones stops the output with what to do, never showing the password', async () => {
    sim = await https();
    for (const [url, expected] of [
      [proxy.url, /answered HTTP 407 .*it wants credentials: put them in outputs\.es\.proxy/],
      [
        proxy.urlWith('shipper', 'wrong-Secret-1'),
        /answered HTTP 407 .*it refused the credentials in outputs\.es\.proxy/,
      ],
    ] as const) {
      const [result] = await deliver({ proxy: url, tls: { ca_file: pki.caCert } }, 1);
      assert.equal(result?.status, 'fatal', message(result as DeliveryResult));
      assert.match(message(result), expected);
      assert.doesNotMatch(message(result), /wrong-Secret-1/);
    }
    await sim.stop();
    sim = await new EsBulkSimulator().start();
    const [plain] = await deliver({ proxy: proxy.url }, 1);
    assert.equal(plain?.status, 'fatal', 'over plain http the 407 is the answer');
    assert.match(message(plain), /407: it wants credentials .*outputs\.es\.proxy/);
    assert.equal(sim.docs.length, 0);
  });

  it('http: the proxy forwards the request (absolute URI); HTTPS_PROXY from the environment, NO_PROXY and proxy: none go direct', async () => {
    sim = await new EsBulkSimulator().start();
    const env = { HTTP_PROXY: proxy.urlWith('shipper', PASSWORD) };
    assert.equal((await deliver({}, 5, env))[0]?.status, 'delivered');
    assert.ok(
      proxy.forwarded().some((u) => u === `${sim.url}/${STREAM}/_bulk`),
      proxy.forwarded().join(' '),
    );
    const forwarded = proxy.forwarded().length;
    assert.equal((await deliver({}, 5, { ...env, NO_PROXY: '127.0.0.1' }))[0]?.status, 'delivered');
    assert.equal((await deliver({ proxy: 'none' }, 5, env))[0]?.status, 'delivered');
    assert.equal(proxy.forwarded().length, forwarded, 'NO_PROXY and proxy: none bypass the proxy');
    assert.equal(sim.streams.get(STREAM)?.size, 15);
  });
});
