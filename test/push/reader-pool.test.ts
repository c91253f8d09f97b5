/**
 * Reader workers: a body read in a worker yields what the receiver's thread reads of it; a
 * worker is kept for the next body after a clean end (a refused body included) and replaced when
 * it dies or is left part way.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { DATASETS } from '../../src/datasets/index.js';
import type { Dataset } from '../../src/datasets/dataset.js';
import { BodyError, DEFAULT_BODY_LIMITS } from '../../src/push/body.js';
import { ReaderFailedError, ReaderPool } from '../../src/push/reader-pool.js';
import { bodySlices, type SliceItem, type SliceOptions, VALIDATION } from '../../src/push/slices.js';

const options: SliceOptions = {
  dataset: DATASETS.http_requests as Dataset,
  shared: false,
  contentEncoding: undefined,
  limits: DEFAULT_BODY_LIMITS,
  sliceEvents: 100,
};

const lines = Array.from({ length: 1050 }, (_, i) =>
  JSON.stringify({ EdgeStartTimestamp: 1714557600000000000 + i, RayID: `r${i}`, ClientRequestURI: `/${i}` }),
);

/** A body in chunks of 4 KiB, as a socket delivers it. */
async function* chunked(body: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < body.length; at += 4096) {
    await new Promise((resolve) => setImmediate(resolve));
    yield body.subarray(at, at + 4096);
  }
}

async function collect(items: AsyncIterable<SliceItem>) {
  const out: { ids: string[]; lines: (string | undefined)[]; bad: number[] }[] = [];
  let validation = false;
  for await (const item of items) {
    if (item === VALIDATION) validation = true;
    else
      out.push({
        ids: item.events.map((e) => e.id),
        lines: item.events.map((e) => e.line),
        bad: item.bad.map((b) => b.number),
      });
  }
  return { out, validation };
}

const refusal = async (items: AsyncIterable<SliceItem>): Promise<BodyError> => {
  try {
    await collect(items);
  } catch (error) {
    if (error instanceof BodyError) return error;
    throw error;
  }
  throw new Error('not refused');
};

describe('push/reader-pool', () => {
  it('reads a body as the receiver thread does, and keeps its worker for the next body, refused or not', async () => {
    const pool = new ReaderPool(2);
    try {
      const body = gzipSync([...lines.slice(0, 500), 'not json', ...lines.slice(500)].join('\n') + '\n');
      const inWorker = await collect(pool.slices(chunked(body), options));
      const here = await collect(bodySlices(chunked(body), options));
      assert.equal(inWorker.out.length, 11);
      assert.deepEqual(inWorker, here);
      assert.deepEqual(
        inWorker.out.flatMap((s) => s.bad),
        [501],
      );
      const validation = await collect(pool.slices(chunked(gzipSync('{"content":"tests"}')), options));
      assert.deepEqual(validation, { out: [], validation: true });
      const bad = await refusal(
        pool.slices(chunked(Buffer.concat([body.subarray(0, 2), Buffer.alloc(100, 7)])), options),
      );
      assert.deepEqual([bad.status, bad.code], [400, 'ERR_PUSH_GZIP']);
      const small = { ...options, limits: { ...DEFAULT_BODY_LIMITS, maxBody: 1000 } };
      const large = await refusal(pool.slices(chunked(body), small));
      assert.deepEqual([large.status, large.code], [413, 'ERR_PUSH_TOO_LARGE']);
      assert.deepEqual(await collect(pool.slices(chunked(body), options)), here, 'the same worker reads on');
      assert.equal(pool.started, 1, 'one worker for all five bodies');
    } finally {
      await pool.close();
    }
  });

  it('a worker left part way through a body is replaced', async () => {
    const pool = new ReaderPool(2);
    try {
      const body = gzipSync(lines.join('\n'));
      for await (const item of pool.slices(chunked(body), options)) {
        assert.notEqual(item, VALIDATION);
        break;
      }
      const again = await collect(pool.slices(chunked(body), options));
      assert.equal(again.out.flatMap((s) => s.ids).length, 1050);
      assert.equal(pool.started, 2);
    } finally {
      await pool.close();
    }
  });

  it('a worker that dies fails its body with ReaderFailedError (the receiver answers 503)', async () => {
    const pool = new ReaderPool(2, new URL('../support/failing-reader.ts', import.meta.url));
    try {
      await assert.rejects(collect(pool.slices(chunked(gzipSync(lines.join('\n'))), options)), (error: unknown) => {
        assert.ok(error instanceof ReaderFailedError);
        assert.equal(error.code, 'ERR_PUSH_READER');
        assert.match(error.message, /exited with code 3/);
        return true;
      });
      await assert.rejects(collect(pool.slices(chunked(gzipSync('{}\n{}')), options)), ReaderFailedError);
      assert.equal(pool.started, 2, 'a new worker for the next body');
    } finally {
      await pool.close();
    }
  });
});
