/** The elasticsearch output against the `_bulk` simulator: ids, per-item results, faults. */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { elasticsearchOutput } from '../../src/config/outputs.js';
import { DEFAULT_FORMAT_CONFIG, formatterOptions } from '../../src/config/formatter.js';
import { accessRequests } from '../../src/datasets/access-requests/index.js';
import { recordFormatter } from '../../src/datasets/formatters.js';
import { eventHash } from '../../src/format/identity.js';
import { createLogger } from '../../src/ops/logger.js';
import { bulkChunks, itemVerdict } from '../../src/sink/es-bulk.js';
import { ElasticsearchSink } from '../../src/sink/elasticsearch.js';
import type { DeliveryResult, OutputRecord, RejectedRecord } from '../../src/sink/types.js';
import { EsBulkSimulator } from '../support/es-bulk-simulator.js';
import { tempDir } from '../support/harness.js';
import { makePki } from '../support/tls-certs.js';
import { readFileSync } from 'node:fs';
import { ACCOUNT, ALLOWED_LOGIN } from '../support/sample-events.js';

const logger = createLogger({ level: 'debug', format: 'text', stream: new PassThrough() });
const ecs = recordFormatter(accessRequests, 'ecs', formatterOptions(DEFAULT_FORMAT_CONFIG, { hostname: 'h' }));
const STREAM = 'logs-cloudflare_access.access_requests-default';

function records(n: number, from = 0): OutputRecord[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const event = { ...ALLOWED_LOGIN, user_email: `u${i}@example.com`, ray_id: `ray${i}` };
    return {
      id: eventHash(event),
      text: ecs(event, { accountId: ACCOUNT }),
      event,
      epochMs: 1714557600123,
      accountId: ACCOUNT,
    };
  });
}

function sink(sim: EsBulkSimulator, extra: Record<string, unknown> = {}, already?: (n: number) => void) {
  const config = elasticsearchOutput.parse({ name: 'es', type: 'elasticsearch', url: sim.url, ...extra });
  return new ElasticsearchSink('es', config, {
    logger,
    dataset: 'access_requests',
    sleep: () => Promise.resolve(),
    ...(already ? { onAlreadyIndexed: already } : {}),
  });
}

const message = (r: DeliveryResult): string => ('error' in r ? r.error.message : '');
const rejectedOf = (r: DeliveryResult): RejectedRecord[] => (r.status === 'delivered' ? (r.rejected ?? []) : []);

describe('sink/elasticsearch', () => {
  let sim: EsBulkSimulator;
  let out: ElasticsearchSink | undefined;
  afterEach(async () => {
    await out?.close();
    out = undefined;
    await sim.stop();
  });

  it('creates each event in the data stream with _id = its content hash, gzip, API key', async () => {
    sim = await new EsBulkSimulator({ authorization: 'ApiKey c2VjcmV0' }).start();
    out = sink(sim, { api_key: 'c2VjcmV0' });
    const batch = records(250);
    assert.deepEqual(await out.deliver(batch), { status: 'delivered' });
    const stored = sim.streams.get(STREAM) ?? new Map<string, never>();
    assert.equal(stored.size, 250);
    assert.deepEqual(
      [...stored.keys()],
      batch.map((r) => r.id),
    );
    assert.equal(sim.gzipRequests, sim.requests);
    const doc = sim.docs[0]?.doc as { user: { email: string }; event: { outcome: string } };
    assert.equal(doc.user.email, 'u0@example.com');
    assert.equal(doc.event.outcome, 'success');
  });

  it('a batch sent again is absorbed by 409s: delivered, counted, stored once', async () => {
    sim = await new EsBulkSimulator().start();
    let already = 0;
    out = sink(sim, {}, (n) => (already += n));
    const batch = records(100);
    await out.deliver(batch);
    assert.deepEqual(await out.deliver(batch), { status: 'delivered' });
    assert.equal(already, 100);
    assert.equal(sim.docs.length, 100);
    assert.equal(sim.duplicated, 0);
  });

  it('items answered 429 are retried alone; everything indexed once', async () => {
    sim = await new EsBulkSimulator({ itemRejectShare: 0.3 }).start();
    out = sink(sim);
    const batch = records(1000);
    // Within one delivery the busy items get 5 more tries; what is left goes back to the pipeline,
    // which offers the batch again (the items indexed meanwhile come back 409).
    let result = await out.deliver(batch);
    let deliveries = 1;
    while (result.status === 'retry' && deliveries < 5) {
      assert.equal(result.progressed, true);
      result = await out.deliver(batch);
      deliveries++;
    }
    assert.equal(result.status, 'delivered');
    console.log(
      `      1,000 events, 30 % of items busy: ${sim.creates} creates in ${sim.requests} requests (${deliveries} deliveries), ${sim.docs.length} stored, ${sim.duplicated} duplicated`,
    );
    assert.equal(sim.docs.length, 1000);
    // 1,000 × (1 + 0.3 + 0.09 + …) ≈ 1,430: only rejected items are sent again, across deliveries too.
    assert.ok(sim.creates < 1550, `${sim.creates} creates: only the rejected items are sent again`);
    assert.equal(sim.duplicated, 0);
  });

  it('a document that fails mapping is dead-lettered; the others are indexed', async () => {
    sim = await new EsBulkSimulator({
      mappingError: (d) => (d.user as { email?: string } | undefined)?.email === 'u3@example.com',
    }).start();
    out = sink(sim);
    const result = await out.deliver(records(10));
    assert.equal(result.status, 'delivered');
    assert.equal(rejectedOf(result).length, 1);
    assert.match(rejectedOf(result)[0]?.reason ?? '', /document_parsing_exception/);
    assert.equal(sim.docs.length, 9);
  });

  it('says what is wrong: 401 and non-Elasticsearch are fatal; down and busy are retries', async () => {
    sim = await new EsBulkSimulator({ authorization: 'ApiKey right' }).start();
    out = sink(sim, { api_key: 'wrong' });
    const refused = await out.deliver(records(3));
    assert.equal(refused.status, 'fatal');
    assert.match(message(refused), /refused the credentials \(401/);
    assert.ok(!message(refused).includes('wrong'), 'the key is not in the error');
    await out.close();
    await sim.stop();

    sim = await new EsBulkSimulator({ notElasticsearch: true }).start();
    out = sink(sim);
    const other = await out.deliver(records(3));
    assert.equal(other.status, 'fatal');
    assert.match(message(other), /not Elasticsearch/);
    await out.close();
    await sim.stop();

    sim = await new EsBulkSimulator({ requestBusyShare: 1 }).start();
    out = sink(sim);
    const busy = await out.deliver(records(3));
    assert.equal(busy.status, 'retry');
    assert.equal('busy' in busy && busy.busy, true);
    const port = sim.port;
    await out.close();
    await sim.stop();
    sim = await new EsBulkSimulator().start(port);
    await sim.outage();
    out = sink(sim);
    const down = await out.deliver(records(3));
    assert.equal(down.status, 'retry');
  });

  it('https: verified against tls.ca_file; an untrusted certificate stops the output with what to set', async () => {
    const pki = makePki(tempDir());
    sim = await new EsBulkSimulator({
      tls: { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) },
    }).start();
    out = sink(sim, { tls: { ca_file: pki.caCert } });
    assert.deepEqual(await out.deliver(records(5)), { status: 'delivered' });
    await out.close();
    out = sink(sim);
    const untrusted = await out.deliver(records(5, 100));
    assert.equal(untrusted.status, 'fatal');
    assert.match(message(untrusted), /not trusted .*set tls\.ca_file/);
    await out.close();
    out = sink(sim, { tls: { verify: false } });
    assert.equal((await out.deliver(records(5, 200))).status, 'delivered');
    assert.equal(sim.docs.length, 10);
  });

  it('413 halves the batch until it fits; one event too large is dead-lettered', async () => {
    const batch = records(40);
    const one = Buffer.byteLength(batch[0]?.text ?? '') + 80;
    sim = await new EsBulkSimulator({ maxContentLength: one * 6 }).start();
    out = sink(sim, { gzip: false });
    const huge = {
      ...records(1, 99)[0],
      text: JSON.stringify({ '@timestamp': '2024-05-01T10:00:00Z', pad: 'x'.repeat(one * 7) }),
    } as OutputRecord;
    const result = await out.deliver([...batch, huge]);
    assert.equal(result.status, 'delivered');
    assert.equal(rejectedOf(result).length, 1);
    assert.equal(sim.docs.length, 40);
  });

  it('pure parts: chunks by count and bytes, item verdicts', () => {
    const batch = records(10);
    assert.deepEqual(
      bulkChunks(batch, 4, Infinity).map((c) => c.records.length),
      [4, 4, 2],
    );
    assert.deepEqual(
      bulkChunks(batch, 100, 1).map((c) => c.records.length),
      Array(10).fill(1),
    );
    assert.ok(bulkChunks(batch, 100, Infinity)[0]?.body.endsWith('\n'));
    assert.deepEqual(itemVerdict({ status: 201 }), { kind: 'done', already: false });
    assert.deepEqual(itemVerdict({ status: 409 }), { kind: 'done', already: true });
    assert.equal(itemVerdict({ status: 429 }).kind, 'retry');
    assert.equal(itemVerdict({ status: 500, error: { type: 'x' } }).kind, 'retry');
    assert.equal(itemVerdict({ status: 400, error: { type: 'mapper_parsing_exception' } }).kind, 'rejected');
    assert.equal(itemVerdict({ status: 403, error: { type: 'security_exception' } }).kind, 'fatal');
    assert.equal(itemVerdict({ status: 404, error: { type: 'index_not_found_exception' } }).kind, 'fatal');
  });
});
