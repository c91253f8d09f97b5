import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { BodyError, bodyLines, type BodyLimits, DEFAULT_BODY_LIMITS, isValidationUpload } from '../../src/push/body.js';

async function* chunks(buffer: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buffer.length; i += size) {
    await Promise.resolve();
    yield buffer.subarray(i, i + size);
  }
}

async function lines(body: Buffer, encoding?: string, size = 7, limits: BodyLimits = DEFAULT_BODY_LIMITS) {
  const out: { text: string; number: number }[] = [];
  for await (const line of bodyLines(chunks(body, size), encoding, limits)) out.push(line);
  return out;
}

async function refusal(
  body: Buffer,
  encoding: string | undefined,
  limits: Partial<BodyLimits> = {},
  size = 65536,
): Promise<BodyError> {
  try {
    await lines(body, encoding, size, { ...DEFAULT_BODY_LIMITS, ...limits });
  } catch (error) {
    assert.ok(error instanceof BodyError, String(error));
    return error;
  }
  assert.fail('expected the body to be refused');
}

describe('push/body: a Logpush upload, streamed', () => {
  const ndjson =
    '{"RayID":"a","ClientRequestHost":"wiki.example.com"}\r\n\n{"RayID":"b","Note":"Grüße 🙂"}\n{"RayID":"c"}';

  it('splits NDJSON at any chunk boundary (inside a line, a CR LF, a UTF-8 character), counting empty lines', async () => {
    const expected = [
      { text: '{"RayID":"a","ClientRequestHost":"wiki.example.com"}', number: 1 },
      { text: '{"RayID":"b","Note":"Grüße 🙂"}', number: 3 },
      { text: '{"RayID":"c"}', number: 4 },
    ];
    for (const size of [1, 2, 3, 5, 64, 4096])
      assert.deepEqual(await lines(Buffer.from(ndjson), undefined, size), expected, `chunks of ${size}`);
  });

  it('gunzips by Content-Encoding or by the magic bytes; identity is taken as it is', async () => {
    const gz = gzipSync(ndjson);
    assert.equal((await lines(gz, 'gzip')).length, 3);
    assert.equal((await lines(gz, undefined)).length, 3, 'Logpush always gzips; the header is not needed');
    assert.deepEqual(
      (await lines(Buffer.from(ndjson), 'identity')).map((l) => l.number),
      [1, 3, 4],
    );
  });

  it('refuses bad gzip (400), a body over max_body, over the decompressed limit, a bomb and an endless line (413)', async () => {
    const gz = gzipSync(ndjson);
    const truncated = await refusal(gz.subarray(0, gz.length - 9), 'gzip');
    assert.deepEqual([truncated.status, truncated.code], [400, 'ERR_PUSH_GZIP']);
    const garbage = await refusal(Buffer.from('not gzip at all'), 'gzip');
    assert.deepEqual([garbage.status, garbage.code], [400, 'ERR_PUSH_GZIP']);
    const big = await refusal(Buffer.alloc(5000, 'x'), undefined, { maxBody: 4096 });
    assert.deepEqual([big.status, big.code], [413, 'ERR_PUSH_TOO_LARGE']);
    const lines100k = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `{"RayID":"${i}"}`).join('\n'));
    const wide = await refusal(gzipSync(lines100k), 'gzip', { maxDecompressed: 100_000 });
    assert.deepEqual([wide.status, wide.code], [413, 'ERR_PUSH_TOO_LARGE']);
    // 256 MiB of empty lines gzip to about 250 KiB: stopped long before it is all inflated.
    const bomb = gzipSync(Buffer.alloc(256 * 2 ** 20, '\n'));
    const before = process.memoryUsage().rss;
    const refusedBomb = await refusal(bomb, 'gzip');
    const grownMiB = (process.memoryUsage().rss - before) / 2 ** 20;
    console.log(
      `      bomb: ${bomb.length} bytes gzip'd of 256 MiB refused (${refusedBomb.code}); RSS grew ${grownMiB.toFixed(1)} MiB`,
    );
    assert.deepEqual([refusedBomb.status, refusedBomb.code], [413, 'ERR_PUSH_BOMB']);
    const endless = await refusal(Buffer.alloc(3000, 'y'), undefined, { maxLine: 1000 }, 500);
    assert.deepEqual([endless.status, endless.code], [413, 'ERR_PUSH_LINE']);
  });

  it('reads a JSON array body (batch_prefix "[", record_delimiter ",", batch_suffix "]") at any chunk boundary, compact or pretty-printed', async () => {
    const records = [{ RayID: 'a', Note: 'x,y]}{' }, { RayID: 'b', Note: 'Grüße 🙂 \\"' }, { RayID: 'c' }];
    const compact = `[${records.map((r) => JSON.stringify(r)).join(',')}]`;
    const pretty = `\n  ${JSON.stringify(records, null, 2)}\n`;
    for (const size of [1, 2, 3, 7, 64, 4096]) {
      const got = await lines(Buffer.from(compact), undefined, size);
      assert.deepEqual(
        got.map((l) => JSON.parse(l.text) as unknown),
        records,
        `compact, chunks of ${size}`,
      );
      assert.deepEqual(
        got.map((l) => l.number),
        [1, 1, 1],
      );
      const spread = await lines(gzipSync(pretty), 'gzip', size);
      assert.deepEqual(
        spread.map((l) => JSON.parse(l.text) as unknown),
        records,
        `pretty, chunks of ${size}`,
      );
      assert.deepEqual(
        spread.map((l) => l.number),
        [3, 7, 11],
        'the line each element starts on, counting the blank line before the array',
      );
    }
    assert.deepEqual(await lines(Buffer.from('[]')), []);
    // An element that is not an object is passed on (and set apart as not an event by the receiver).
    assert.deepEqual(
      (await lines(Buffer.from('[{"RayID":"a"}, 5, "x"]'))).map((l) => l.text),
      ['{"RayID":"a"}', '5', '"x"'],
    );
  });

  it('refuses a JSON array body that is not valid (400) or whose element is endless (413)', async () => {
    const open = await refusal(Buffer.from('[{"RayID":"a"},{"RayID":'), undefined);
    assert.deepEqual([open.status, open.code], [400, 'ERR_PUSH_JSON']);
    const twice = await refusal(Buffer.from('[{"RayID":"a"}]\n[{"RayID":"b"}]'), undefined);
    assert.deepEqual([twice.status, twice.code], [400, 'ERR_PUSH_JSON']);
    const endless = await refusal(Buffer.from(`[{"RayID":"${'y'.repeat(3000)}"}]`), undefined, { maxLine: 1000 }, 500);
    assert.deepEqual([endless.status, endless.code], [413, 'ERR_PUSH_LINE']);
    const whole = await refusal(Buffer.from(`[{"RayID":"${'y'.repeat(3000)}"}]`), undefined, { maxLine: 1000 });
    assert.deepEqual([whole.status, whole.code], [413, 'ERR_PUSH_LINE'], 'an element inside one chunk too');
  });

  it("knows Logpush's validation upload", () => {
    const one = (text: string) => [{ text, number: 1 }];
    assert.ok(isValidationUpload(one('{"content":"tests"}')));
    assert.ok(isValidationUpload(one('test')));
    assert.ok(!isValidationUpload(one('{"content":"tests","RayID":"x"}')));
    assert.ok(!isValidationUpload(one('{"RayID":"x"}')));
    assert.ok(!isValidationUpload([...one('test'), { text: 'test', number: 2 }]));
  });
});
