import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { realClock } from '../../src/clock.js';
import { pushSchema } from '../../src/config/push.js';
import { DATASETS } from '../../src/datasets/index.js';
import { ReaderPool } from '../../src/push/reader-pool.js';
import { PushReceiver } from '../../src/push/receiver.js';
import type { DeliveryResult, OutputRecord, Sink } from '../../src/sink/types.js';
import { postLogpush } from '../support/logpush-client.js';

const SECRET = 'receiver-secret-0123456789';
const errors: string[] = [];
const quiet = { error: (m: string) => errors.push(m), warn: () => {}, info: () => {}, debug: () => {} };

/** A sink that answers by a script per call and records what it was given and told to forget. */
class ScriptedSink implements Sink {
  readonly exactlyOnce = false;
  readonly concurrency = 1;
  readonly written: string[] = [];
  readonly settledIds: string[] = [];
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    readonly name: string,
    private readonly script: (call: number) => DeliveryResult['status'],
  ) {}
  open = () => Promise.resolve();
  position = () => undefined;
  reopen = () => Promise.resolve();
  close = () => Promise.resolve();
  settled(records: readonly OutputRecord[]): void {
    for (const r of records) this.settledIds.push(r.id);
  }
  async deliver(records: readonly OutputRecord[]): Promise<DeliveryResult> {
    this.calls++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    // Slow enough that the next slice is parsed while this one is "in flight".
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.inFlight--;
    const status = this.script(this.calls);
    if (status !== 'delivered') return { status: 'retry', error: new Error('down') };
    for (const r of records) this.written.push(r.text);
    return { status: 'delivered' };
  }
}

const post = (port: number, body: Buffer): Promise<number> => postLogpush(port, body, SECRET);

async function receiverWith(sink: Sink, commits: { n: number }, inWorker: boolean, readers?: ReaderPool) {
  const config = pushSchema.parse({
    listen: '127.0.0.1:0',
    slice_events: 100,
    read_in_worker: inWorker,
    endpoints: [{ name: 'http', dataset: 'http_requests', secret: SECRET }],
  });
  const receiver = new PushReceiver({
    config,
    outputs: [{ name: sink.name, sink, formatterFor: (d) => d.json, sourcetypeFor: () => undefined }],
    datasets: DATASETS,
    logger: quiet,
    clock: realClock,
    attempts: 1,
    commit: () => {
      commits.n++;
      return Promise.resolve();
    },
    deadLetter: () => Promise.resolve(),
    badLines: () => Promise.resolve(),
    readers,
  });
  return { receiver, port: await receiver.start() };
}

const lines = Array.from({ length: 1000 }, (_, i) =>
  JSON.stringify({ EdgeStartTimestamp: 1714557600000000000 + i * 1000, RayID: `r${i}`, ClientRequestURI: `/${i}` }),
);
const body = gzipSync(lines.join('\n') + '\n');

for (const inWorker of [false, true]) {
  const where = inWorker ? 'read in a worker' : "read in the receiver's thread";
  describe(`push/receiver: slices in two stages (${where})`, () => {
    it('a slice that fails after earlier ones were confirmed: 503, nothing committed; the resend ships only the rest, in order', async () => {
      // Calls 1–4 confirmed, the 5th fails (the push is answered 503), all later calls confirmed.
      const sink = new ScriptedSink('out', (call) => (call === 5 ? 'retry' : 'delivered'));
      const commits = { n: 0 };
      const { receiver, port } = await receiverWith(sink, commits, inWorker);
      try {
        assert.equal(await post(port, body), 503);
        assert.equal(commits.n, 0, 'a push answered 503 commits nothing');
        assert.equal(sink.written.length, 400);
        assert.equal(await post(port, body), 200);
        assert.equal(commits.n, 1);
        console.log(
          `      1,000 pushed, slice 5 failed (503), pushed again (200): written ${sink.written.length}, distinct ${new Set(sink.written).size}, ${sink.calls} calls, at most ${sink.maxInFlight} in flight`,
        );
        assert.deepEqual(sink.written, lines, 'each line once, in the order pushed, as it came (plain JSON)');
        assert.equal(sink.maxInFlight, 1, 'slices reach an output one after another');
        assert.equal(new Set(sink.settledIds).size, 1000, 'every confirmed event is settled (HEC may forget its ack)');
      } finally {
        await receiver.stop(100);
      }
    });
  });

  describe(`push/receiver: a JSON array body (output_options batch_prefix "[", record_delimiter ",", batch_suffix "]"; ${where})`, () => {
    it('ships each element once, as one line of JSON even when pretty-printed; the same array again is dropped', async () => {
      const sink = new ScriptedSink('out', () => 'delivered');
      const { receiver, port } = await receiverWith(sink, { n: 0 }, inWorker);
      try {
        const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
        const compact = gzipSync(`[${lines.join(',')}]`);
        assert.equal(await post(port, compact), 200);
        assert.deepEqual(sink.written, lines, 'compact elements are written as they came');
        assert.equal(await post(port, compact), 200);
        assert.equal(sink.written.length, 1000, 'the same array again ships nothing');
        const pretty = records.slice(0, 300).map((r) => ({ ...r, RayID: `p${String(r.RayID)}` }));
        assert.equal(await post(port, gzipSync(JSON.stringify(pretty, null, 2))), 200);
        const shipped = sink.written.slice(1000);
        console.log(
          `      1,000 in a compact array twice, 300 pretty-printed: written ${sink.written.length}; multi-line records ${shipped.filter((t) => t.includes('\n')).length}`,
        );
        assert.equal(shipped.length, 300);
        assert.ok(
          shipped.every((t) => !t.includes('\n')),
          'a pretty-printed element is written as one line',
        );
        assert.deepEqual(
          shipped.map((t) => JSON.parse(t) as unknown),
          pretty,
        );
      } finally {
        await receiver.stop(100);
      }
    });
  });
}

describe('push/receiver: a reader worker that dies', () => {
  it('answers 503 (Logpush sends the batch again), ships and commits nothing, and says so', async () => {
    const sink = new ScriptedSink('out', () => 'delivered');
    const commits = { n: 0 };
    const readers = new ReaderPool(1, new URL('../support/failing-reader.ts', import.meta.url));
    const { receiver, port } = await receiverWith(sink, commits, true, readers);
    try {
      errors.length = 0;
      assert.equal(await post(port, body), 503);
      assert.equal(await post(port, body), 503, 'and again with the worker that replaced it');
      assert.deepEqual([sink.written.length, commits.n, readers.started], [0, 0, 2]);
      assert.match(errors[0] ?? '', /push http: the reader worker failed: exited with code 3; answered 503/);
    } finally {
      await receiver.stop(100);
    }
  });
});
