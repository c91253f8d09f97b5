import assert from 'node:assert/strict';
import { splunkHecOutput } from '../../src/config/outputs.js';
import { createLogger } from '../../src/ops/logger.js';
import { classifyHecResponse, stableChannel } from '../../src/sink/hec-protocol.js';
import { POLLED } from '../../src/datasets/index.js';
import { SplunkHecSink } from '../../src/sink/splunk-hec.js';
import type { DeliveryResult, OutputRecord, RejectedRecord } from '../../src/sink/types.js';
import { HecBalancer } from '../support/hec-balancer.js';
import { HecSimulator } from '../support/hec-simulator.js';
import { ACCOUNT, ALLOWED_LOGIN } from '../support/sample-events.js';
import { PassThrough } from 'node:stream';

const message = (r: DeliveryResult): string => ('error' in r ? r.error.message : '');
const rejectedOf = (r: DeliveryResult): RejectedRecord[] => (r.status === 'delivered' ? (r.rejected ?? []) : []);
const logs = new PassThrough();
const logger = createLogger({ level: 'debug', format: 'text', stream: logs });

let nextId = 0;

/** `n` records with ids never used before (an id is the event's identity: the sink remembers what it confirmed). */
function records(
  n: number,
  text = (i: number) => JSON.stringify({ ...ALLOWED_LOGIN, user_email: `u${i}@example.com` }),
): OutputRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `r${nextId++}`,
    text: text(i),
    event: ALLOWED_LOGIN,
    epochMs: 1714557600123 + i,
    accountId: ACCOUNT,
  }));
}

function sink(sim: HecSimulator, extra: Record<string, unknown> = {}): SplunkHecSink {
  const config = splunkHecOutput.parse({
    name: 'splunk',
    type: 'splunk_hec',
    url: sim.url,
    token: sim.token,
    ack_poll_interval: '100ms',
    ack_timeout: '2s',
    ...extra,
  });
  // As the factory builds it: the polled dataset's sourcetype for the format.
  return new SplunkHecSink('splunk', config, { logger, sourcetype: POLLED.sourcetype(config.format) });
}

describe('sink/splunk-hec against the HEC simulator', function () {
  this.timeout(30_000);
  let sim: HecSimulator;
  afterEach(async () => {
    await sim.stop();
  });

  it('code 0: sends gzip concatenated JSON with time, host, source, sourcetype, index, fields and a stable channel', async () => {
    sim = await new HecSimulator({ indexes: ['security', 'main'] }).start();
    const hec = sink(sim, { index: 'security', host: 'shipper01' });
    await hec.open();
    assert.deepEqual(await hec.deliver(records(3)), { status: 'delivered' });
    assert.equal(sim.events.length, 3);
    const first = sim.events[0]!;
    assert.equal(first.time, 1714557600.123);
    assert.equal(first.host, 'shipper01');
    assert.equal(first.source, 'cloudflare:access');
    assert.equal(first.sourcetype, 'cf_access_shipper:access_requests:json');
    assert.equal(first.index, 'security');
    assert.deepEqual(first.fields, { account_id: ACCOUNT });
    assert.equal((first.event as { user_email: string }).user_email, 'u0@example.com');
    assert.ok(sim.requests[0]!.gzip);
    assert.equal(sim.requests[0]!.channel, stableChannel('splunk', sim.url));
    assert.match(sim.requests[0]!.channel, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await hec.close();
  });

  it('sends CEF as a string event with the cef sourcetype, and cuts batches by max_events and max_bytes', async () => {
    sim = await new HecSimulator().start();
    const hec = sink(sim, { format: 'cef', gzip: false, batch: { max_events: 4, max_bytes: '2KiB' } });
    await hec.open();
    const cef = records(
      10,
      (i) => `CEF:0|Cloudflare|Access|1|login-allowed|Access login allowed|3|suser=u${i} cs1=${'x'.repeat(600)}`,
    );
    assert.deepEqual(await hec.deliver(cef), { status: 'delivered' });
    assert.equal(sim.events.length, 10);
    assert.equal(sim.events[0]!.sourcetype, 'cf_access_shipper:access_requests:cef');
    assert.match(String(sim.events[0]!.event), /^CEF:0\|/);
    assert.ok(sim.requests.length >= 4, `max_bytes splits (${sim.requests.length} requests)`);
    assert.ok(sim.requests.every((r) => r.events <= 4));
  });

  it('codes 1 and 4 (token) and 7 (index) stop the output with the setting to fix', async () => {
    sim = await new HecSimulator({ disabledTokens: ['disabled-token'], indexes: ['main'] }).start();
    const disabled = sink(sim, { token: 'disabled-token' });
    await disabled.open();
    const r1 = await disabled.deliver(records(1));
    assert.equal(r1.status, 'fatal');
    assert.match(message(r1), /code 1: Token disabled.*enable it/);
    const wrong = sink(sim, { token: 'wrong-token' });
    await wrong.open();
    const r4 = await wrong.deliver(records(1));
    assert.match(message(r4), /code 4: Invalid token.*outputs\.splunk\.token/);
    const index = sink(sim, { index: 'nope' });
    await index.open();
    const r7 = await index.deliver(records(1));
    assert.match(message(r7), /code 7: Incorrect index.*outputs\.splunk\.index/);
    assert.doesNotMatch(
      JSON.stringify([r1, r4, r7].map((r) => message(r))),
      /disabled-token|wrong-token/,
      'no token in errors',
    );
  });

  it('codes 8, 9 and HTTP 429/502/503/504 and resets are retried; Retry-After is passed on', async () => {
    sim = await new HecSimulator().start();
    const hec = sink(sim);
    await hec.open();
    for (const fault of [
      { kind: 'status', status: 500, code: 8, text: 'Internal server error' },
      { kind: 'status', status: 503, code: 9, text: 'Server is busy', retryAfter: '7' },
      { kind: 'status', status: 429, code: 9 },
      { kind: 'status', status: 502, code: 0, text: 'Bad gateway' },
      { kind: 'status', status: 504, code: 0 },
      { kind: 'status', status: 503, code: 18, text: 'HEC is unhealthy' },
      { kind: 'reset' },
    ] as const) {
      sim.faults.push({ ...fault });
      const result = await hec.deliver(records(2));
      assert.equal(result.status, 'retry', JSON.stringify(fault));
      if ('retryAfter' in fault) assert.equal('retryAfterMs' in result ? result.retryAfterMs : 0, 7000);
      // Only "busy" (code 9, HTTP 429) says the indexer is up: its retries are not counted as failures.
      const { status, code } = fault as { status?: number; code?: number };
      const busy = status === 429 || code === 9;
      assert.equal('busy' in result && result.busy === true, busy, JSON.stringify(fault));
    }
    assert.equal(sim.events.length, 0);
    assert.deepEqual(await hec.deliver(records(2)), { status: 'delivered' });
  });

  it('codes 6/12/13/15 with invalid-event-number: the prefix is indexed, the bad event dead-lettered, the rest sent', async () => {
    sim = await new HecSimulator({ poisonText: 'POISON' }).start();
    const hec = sink(sim);
    await hec.open();
    const batch = records(6, (i) => JSON.stringify({ n: i, user_email: i === 2 || i === 4 ? 'POISON' : `u${i}` }));
    const result = await hec.deliver(batch);
    assert.equal(result.status, 'delivered');
    const rejected = rejectedOf(result);
    assert.deepEqual(
      rejected.map((r) => JSON.parse(r.record.text) as { n: number }).map((e) => e.n),
      [2, 4],
    );
    assert.match(rejected[0]!.reason, /code 6: Invalid data format/);
    assert.deepEqual(
      sim.events.map((e) => (e.event as { n: number }).n),
      [0, 1, 3, 5],
      'each event indexed once',
    );
  });

  it('with acks, the accepted prefix is resent once to get it acknowledged', async () => {
    sim = await new HecSimulator({ ack: true, poisonText: 'POISON' }).start();
    const hec = sink(sim, { ack: true });
    await hec.open();
    const result = await hec.deliver(records(4, (i) => JSON.stringify({ n: i, bad: i === 2 ? 'POISON' : 'no' })));
    assert.equal(result.status, 'delivered');
    assert.deepEqual(
      sim.events.map((e) => (e.event as { n: number }).n),
      [0, 1, 0, 1, 3],
      'prefix twice (documented), suffix once',
    );
  });

  it('413 splits the batch; a single event over the limit is dead-lettered', async () => {
    sim = await new HecSimulator({ maxContentLength: 1500 }).start();
    const hec = sink(sim, { gzip: false });
    await hec.open();
    const batch = records(8, (i) => JSON.stringify({ n: i, pad: 'p'.repeat(i === 5 ? 3000 : 300) }));
    const result = await hec.deliver(batch);
    assert.equal(result.status, 'delivered');
    assert.deepEqual(
      rejectedOf(result).map((r) => (JSON.parse(r.record.text) as { n: number }).n),
      [5],
    );
    assert.deepEqual(sim.events.map((e) => (e.event as { n: number }).n).sort(), [0, 1, 2, 3, 4, 6, 7]);
  });

  it('ack true: delivered only when every ackId is true; a lost batch is resent after ack_timeout', async () => {
    sim = await new HecSimulator({ ack: true, ackDelayMs: 300 }).start();
    const hec = sink(sim, { ack: true, batch: { max_events: 2 } });
    await hec.open();
    const started = Date.now();
    assert.deepEqual(await hec.deliver(records(5)), { status: 'delivered' });
    assert.ok(Date.now() - started >= 300, 'waited for the acks');
    assert.ok(sim.requests.some((r) => r.path === '/services/collector/ack'));
    sim.faults.push({ kind: 'lose' });
    const batch = records(2);
    const lost = await hec.deliver(batch);
    assert.equal(lost.status, 'retry');
    assert.match(message(lost), /not acknowledged after 2 s; resending/);
    assert.deepEqual(await hec.deliver(batch), { status: 'delivered' });
    assert.equal(sim.events.length, 7);
  });

  it('ack auto uses acks only when the server gives ackIds; ack true against a token without acks stops', async () => {
    sim = await new HecSimulator({ ack: false }).start();
    const auto = sink(sim, { ack: 'auto' });
    await auto.open();
    assert.deepEqual(await auto.deliver(records(2)), { status: 'delivered' });
    assert.ok(!sim.requests.some((r) => r.path === '/services/collector/ack'));
    const strict = sink(sim, { ack: true });
    await strict.open();
    const result = await strict.deliver(records(1));
    assert.equal(result.status, 'fatal');
    assert.match(message(result), /without an ackId.*ack is true/);
  });

  it('a retried batch sends only the events not yet confirmed', async () => {
    sim = await new HecSimulator().start();
    const hec = sink(sim, { batch: { max_events: 2 } });
    await hec.open();
    const batch = records(6);
    sim.faults.push({ kind: 'delay', ms: 1 }, { kind: 'status', status: 503, code: 9 });
    assert.equal((await hec.deliver(batch)).status, 'retry');
    assert.equal(sim.events.length, 2);
    assert.deepEqual(await hec.deliver(batch), { status: 'delivered' });
    assert.equal(sim.events.length, 6, 'no duplicate of the confirmed first chunk');
  });

  it('classifies every row of the HEC code table', () => {
    const c = (status: number, code?: number, extra: Record<string, unknown> = {}) =>
      classifyHecResponse(
        { status, body: JSON.stringify({ text: 't', ...(code === undefined ? {} : { code }), ...extra }) },
        'outputs.s',
      ).kind;
    assert.equal(c(200, 0), 'ok');
    assert.equal(c(403, 1), 'fatal');
    assert.equal(c(401, 2), 'fatal');
    assert.equal(c(401, 3), 'fatal');
    assert.equal(c(403, 4), 'fatal');
    assert.equal(c(400, 5), 'reject');
    assert.equal(c(400, 6, { 'invalid-event-number': 3 }), 'reject');
    assert.equal(c(400, 7), 'fatal');
    assert.equal(c(500, 8), 'retry');
    assert.equal(c(503, 9), 'retry');
    assert.equal(c(400, 10), 'fatal');
    assert.equal(c(400, 11), 'fatal');
    assert.equal(c(400, 12), 'reject');
    assert.equal(c(400, 13), 'reject');
    assert.equal(c(400, 14), 'fatal');
    assert.equal(c(400, 15), 'reject');
    assert.equal(c(400, 16), 'fatal');
    for (const code of [18, 19, 20]) assert.equal(c(503, code), 'retry');
    assert.equal(classifyHecResponse({ status: 413, body: '<html>too large</html>' }, 'o').kind, 'split');
    for (const status of [429, 502, 503, 504])
      assert.equal(classifyHecResponse({ status, body: 'x' }, 'o').kind, 'retry');
    assert.equal(classifyHecResponse({ status: 404, body: 'x' }, 'o').kind, 'fatal');
  });
});

describe('sink/hec-protocol event text', () => {
  it('writes valid JSON for any CEF line and time', async () => {
    const { hecEvent, epochSecondsText } = await import('../../src/sink/hec-protocol.js');
    const fc = (await import('fast-check')).default;
    const envelope = { host: 'h"1', source: 's', sourcetype: 'st', index: 'i\\x', eventIsJson: false };
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: -1e13, max: 1e13 }), (text, ms) => {
        const doc = JSON.parse(hecEvent({ text, event: {}, epochMs: ms, accountId: ACCOUNT, id: 'p' }, envelope)) as {
          time: number;
          event: string;
          host: string;
          index: string;
        };
        assert.equal(doc.event, text);
        assert.equal(doc.host, 'h"1');
        assert.equal(doc.index, 'i\\x');
        assert.ok(Math.abs(doc.time - ms / 1000) < 0.0005);
      }),
      { numRuns: 500 },
    );
    assert.equal(epochSecondsText(1714557600005), '1714557600.005');
    assert.equal(epochSecondsText(1714557600120), '1714557600.120');
  });
});

describe('sink/hec-protocol request bodies', () => {
  it('encodes events into bodies within max_events and max_bytes; slices share the bytes (property)', async () => {
    const { encodeBatches, envelopeText, hecEvent, sliceChunk } = await import('../../src/sink/hec-protocol.js');
    const fc = (await import('fast-check')).default;
    const envelope = { host: 'h', source: 's', sourcetype: 'st', eventIsJson: false };
    const constant = envelopeText(envelope);
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 3000 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 100, max: 20_000 }),
        fc.nat(),
        (texts, maxEvents, maxBytes, seed) => {
          const batch: OutputRecord[] = texts.map((text, i) => ({
            text,
            event: {},
            epochMs: 1714557600000 + i,
            accountId: ACCOUNT,
            id: `p${i}`,
          }));
          const indices = batch.map((_, i) => i).filter((i) => (seed >> (i % 20)) % 3 !== 0); // some already confirmed
          const chunks = [...encodeBatches(batch, indices, envelope, constant, maxEvents, maxBytes)];
          assert.deepEqual(
            chunks.flatMap((c) => c.indices),
            indices,
          );
          for (const chunk of chunks) {
            const expected = chunk.indices.map((i) => hecEvent(batch[i]!, envelope, constant));
            assert.equal(chunk.body.toString('utf8'), expected.join('\n'));
            assert.ok(chunk.indices.length <= maxEvents);
            assert.ok(
              chunk.indices.length === 1 || chunk.body.length <= maxBytes,
              'only a lone event may exceed max_bytes',
            );
            const mid = Math.floor(chunk.indices.length / 2);
            const halves = [sliceChunk(chunk, 0, mid), sliceChunk(chunk, mid, chunk.indices.length)];
            assert.equal(halves[0]!.body.toString('utf8'), expected.slice(0, mid).join('\n'));
            assert.equal(halves[1]!.body.toString('utf8'), expected.slice(mid).join('\n'));
            const last = halves[1]!;
            if (last.indices.length > 1)
              assert.equal(
                sliceChunk(last, 1, last.indices.length).body.toString('utf8'),
                expected.slice(mid + 1).join('\n'),
              );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('sink/splunk-hec behind a load balancer', function () {
  this.timeout(60_000);

  async function throughBalancer(
    sticky: boolean,
  ): Promise<{ results: DeliveryResult[]; indexed: number; sent: number }> {
    const backends = [
      await new HecSimulator({ ack: true, ackDelayMs: 50 }).start(),
      await new HecSimulator({ ack: true, ackDelayMs: 50, firstAckId: 100_000 }).start(),
    ];
    const balancer = await new HecBalancer(backends, { sticky }).start();
    try {
      const config = splunkHecOutput.parse({
        name: 'splunk',
        type: 'splunk_hec',
        url: balancer.url,
        token: backends[0]!.token,
        ack: true,
        ack_poll_interval: '100ms',
        ack_timeout: '2s',
        batch: { max_events: 5 },
      });
      const hec = new SplunkHecSink('splunk', config, { logger });
      await hec.open();
      const batches = Array.from({ length: 8 }, () => records(20));
      const results = await Promise.all(batches.map((b) => hec.deliver(b)));
      await hec.close();
      const indexed = backends.reduce((n, b) => n + b.events.length, 0);
      const acks = balancer.routed.filter((r) => r.path === '/services/collector/ack');
      console.log(
        `      sticky ${sticky}: sent 160, indexed ${indexed} (${backends.map((b) => b.events.length).join(' + ')}), duplicated ${indexed - 160}; ${acks.length} ack queries, ${acks.filter((r) => r.cookie).length} with the cookie; ${results.filter((r) => r.status === 'delivered').length}/8 batches confirmed`,
      );
      return { results, indexed, sent: 160 };
    } finally {
      await balancer.stop();
      for (const b of backends) await b.stop();
    }
  }

  it('sends the balancer cookie back, so every ackId is asked of the indexer that issued it: all confirmed, 0 duplicated', async () => {
    const { results, indexed, sent } = await throughBalancer(true);
    assert.deepEqual(
      results.map((r) => r.status),
      Array(8).fill('delivered'),
    );
    assert.equal(indexed, sent);
  });

  it('without the cookie the ack queries reach the wrong indexer: acks never come (the test can fail)', async () => {
    const { results } = await throughBalancer(false);
    const unconfirmed = results.filter((r) => r.status === 'retry');
    assert.ok(unconfirmed.length > 0, 'some batches stay unacknowledged');
    assert.match(message(unconfirmed[0]!), /not acknowledged after 2 s/);
  });
});
