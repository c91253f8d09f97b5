import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { type ReadItem, readEventBatches, sniffMode } from '../../src/source/event-reader.js';

async function readAll(chunks: (string | Buffer)[]): Promise<ReadItem[]> {
  const items: ReadItem[] = [];
  for await (const batch of readEventBatches(Readable.from(chunks.map((c) => Buffer.from(c))))) items.push(...batch);
  return items;
}

const events = (items: ReadItem[]) => items.flatMap((i) => (i.kind === 'event' ? [i.event] : []));
const errors = (items: ReadItem[]) => items.flatMap((i) => (i.kind === 'error' ? [i] : []));

/** Splits the UTF-8 bytes of text at the given points (even inside a character). */
function cut(text: string, points: number[]): Buffer[] {
  const bytes = Buffer.from(text);
  const sorted = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of sorted) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  out.push(bytes.subarray(last));
  return out;
}

describe('source/event-reader', () => {
  it('reads NDJSON, skipping blank lines and reporting malformed ones by line number', async () => {
    const items = await readAll(['{"a":1}\n\n{"a":2}\r\nnot json\n[1]\n{"a":', '3}']);
    assert.deepEqual(events(items), [{ a: 1 }, { a: 2 }, { a: 3 }]);
    assert.deepEqual(
      errors(items).map((e) => e.line),
      [4, 5],
    );
  });

  it('reads a JSON array and a whole API response, pretty-printed or not', async () => {
    assert.deepEqual(events(await readAll(['[{"a":1},\n {"a":"]"}]'])), [{ a: 1 }, { a: ']' }]);
    const envelope = JSON.stringify(
      {
        success: true,
        errors: [],
        messages: [],
        result: [{ a: 1 }, { b: [1, { c: '}' }] }],
        result_info: { total_count: 0 },
      },
      null,
      2,
    );
    assert.deepEqual(events(await readAll([envelope])), [{ a: 1 }, { b: [1, { c: '}' }] }]);
    assert.deepEqual(events(await readAll([JSON.stringify({ result: [{ a: 1 }], success: true })])), [{ a: 1 }]);
  });

  it('reads a single pretty-printed event', async () => {
    assert.deepEqual(events(await readAll([JSON.stringify({ a: 1, b: [2] }, null, 2)])), [{ a: 1, b: [2] }]);
  });

  it('reports a failed API response and an incomplete document', async () => {
    const failed = await readAll([
      JSON.stringify({ success: false, errors: [{ code: 10000, message: 'Authentication error' }], result: null }),
    ]);
    assert.deepEqual(events(failed), []);
    assert.match(errors(failed)[0]!.message, /reports failure: \[\{"code":10000/);
    const cutShort = await readAll(['[{"a":1},\n{"a":2']);
    assert.deepEqual(events(cutShort), [{ a: 1 }]);
    assert.match(errors(cutShort)[0]!.message, /incomplete/);
  });

  it('skips array elements that are not objects, with their line', async () => {
    const items = await readAll(['[\n{"a":1},\n2,\n"x",\n{"a":tru},\n{"a":3}\n]']);
    assert.deepEqual(events(items), [{ a: 1 }, { a: 3 }]);
    assert.deepEqual(
      errors(items).map((e) => e.line),
      [3, 4, 5],
    );
  });

  it('finds the same events whatever the chunk boundaries (property)', async () => {
    const value = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', '"', '\\', '[', ']', '{', '}', ',', ':', '\n', 'é', '😀') }),
      fc.integer(),
      fc.boolean(),
    );
    const event = fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(value, fc.array(value, { maxLength: 3 })), {
      maxKeys: 4,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.constantFrom('ndjson', 'array', 'envelope'),
        async (list, points, shape) => {
          const text =
            shape === 'ndjson'
              ? list.map((e) => JSON.stringify(e)).join('\n')
              : shape === 'array'
                ? JSON.stringify(list, null, 1)
                : JSON.stringify({ success: true, result: list, result_info: {} });
          if (shape === 'ndjson' && list.length === 0) return;
          const items = await readAll(cut(text, points));
          assert.deepEqual(errors(items), []);
          assert.deepEqual(events(items), JSON.parse(JSON.stringify(list)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('tells the shapes apart from the start of the input', () => {
    assert.equal(sniffMode('{"a":1}\n{"a":2}\n'), 'ndjson');
    assert.equal(sniffMode('{\n  "success": true,\n'), 'document');
    assert.equal(sniffMode('\uFEFF[{"a":1}]'), 'document');
    assert.equal(sniffMode('{"success":true,"result":[]}\n'), 'document');
    assert.equal(sniffMode('{"a":\n{"a":2}\n{"a":3}\n'), 'ndjson');
    assert.equal(sniffMode('garbage\n{"a":2}\n'), 'ndjson');
  });
});

describe('source/event-reader byte-order mark', () => {
  it('drops a UTF-8 BOM, even split across chunks, for NDJSON and documents', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    for (const text of ['{"a":1}\n{"a":2}\n', '[{"a":1},{"a":2}]']) {
      const bytes = Buffer.concat([bom, Buffer.from(text)]);
      const items = await readAll([bytes.subarray(0, 1), bytes.subarray(1, 2), bytes.subarray(2)]);
      assert.deepEqual(events(items), [{ a: 1 }, { a: 2 }]);
      assert.deepEqual(errors(items), []);
    }
  });
});
