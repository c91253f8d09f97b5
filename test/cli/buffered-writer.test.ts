import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { BufferedWriter } from '../../src/cli/buffered-writer.js';

/** A stream that records what it got and asks for a drain after every write. */
function slowSink(): { stream: Writable; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      setImmediate(callback);
    },
  });
  return { stream, chunks };
}

describe('cli/BufferedWriter', () => {
  it('writes every line as UTF-8, in order, including lines larger than its buffer', async () => {
    const { stream, chunks } = slowSink();
    const out = new BufferedWriter(stream);
    const lines = ['plain', 'é ü ß', '😀 surrogate pair', 'x'.repeat(300_000), '日本語'.repeat(50_000), ''];
    for (let i = 0; i < 200; i++) lines.push(`line ${i} ${'€'.repeat(i)}`);
    for (const line of lines) {
      out.add(line);
      await out.flushIfFull();
    }
    await out.close();
    assert.equal(Buffer.concat(chunks).toString('utf8'), `${lines.join('\n')}\n`);
    assert.ok(chunks.length > 2, 'flushed in several chunks');
  });

  it('does not reuse a buffer the stream still holds', async () => {
    const held: Buffer[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        held.push(chunk); // kept without copying, as a slow pipe would
        callback();
      },
    });
    const out = new BufferedWriter(stream);
    for (let i = 0; i < 5_000; i++) {
      out.add(`event ${i} ${'a'.repeat(100)}`);
      await out.flushIfFull();
    }
    await out.close();
    const expected = Array.from({ length: 5_000 }, (_, i) => `event ${i} ${'a'.repeat(100)}\n`).join('');
    assert.equal(Buffer.concat(held).toString('utf8'), expected);
  });
});
