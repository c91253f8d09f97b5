import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FileSink } from '../../src/sink/file.js';
import type { OutputRecord } from '../../src/sink/types.js';
import { tempDir } from '../support/harness.js';

const record = (text: string): OutputRecord => ({ text, event: {}, epochMs: 0, accountId: 'a', id: text });

describe('sink/file', () => {
  it('appends whole lines, reports its committed position and cuts an uncommitted tail on open', async () => {
    const path = join(tempDir(), 'out.ndjson');
    const truncations: number[] = [];
    const sink = new FileSink('archive', path, { onTruncate: ({ from, to }) => truncations.push(from - to) });
    await sink.open(undefined);
    assert.deepEqual(await sink.deliver([record('one'), record('two')]), { status: 'delivered' });
    const committed = sink.position();
    assert.equal(committed.file?.size, 8);
    // A batch written but never committed (the process died before saving the state).
    assert.deepEqual(await sink.deliver([record('three')]), { status: 'delivered' });
    await sink.close();
    const reopened = new FileSink('archive', path, { onTruncate: ({ from, to }) => truncations.push(from - to) });
    await reopened.open(committed);
    assert.equal(readFileSync(path, 'utf8'), 'one\ntwo\n');
    assert.deepEqual(truncations, [6]);
    await reopened.close();
  });

  it('writes every batch byte for byte as its lines in UTF-8, through a buffer that grows and is reused (property)', async () => {
    const path = join(tempDir(), 'out.ndjson');
    const sink = new FileSink('archive', path);
    await sink.open(undefined);
    const expected: Buffer[] = [];
    // Any UTF-16 (lone surrogates too, written as U+FFFD like Buffer.from), lines past the first 64 KiB buffer.
    const line = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 200 }),
      fc.integer({ min: 1, max: 40_000 }).map((n) => 'é'.repeat(n)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 30 }), async (lines) => {
        assert.deepEqual(await sink.deliver(lines.map(record)), { status: 'delivered' });
        expected.push(...lines.map((l) => Buffer.from(`${l}\n`, 'utf8')));
      }),
      { numRuns: 150 },
    );
    await sink.close();
    const written = readFileSync(path);
    assert.equal(written.length, sink.position().file?.size);
    assert.ok(written.equals(Buffer.concat(expected)));
  });

  it('a write that failed part way and could not be taken back is cut off before the next write', async () => {
    const path = join(tempDir(), 'out.ndjson');
    const sink = new FileSink('archive', path);
    await sink.open(undefined);
    await sink.deliver([record('one')]);
    // The disk fills in the middle of a batch, and the truncate that would take it back fails too.
    const handle = (sink as unknown as { handle: FileHandle }).handle;
    const write = handle.write.bind(handle);
    const truncate = handle.truncate.bind(handle);
    let failures = 1;
    Object.assign(handle, {
      write: async (data: Buffer, offset: number, length: number) => {
        if (failures === 0) return write(data, offset, length);
        failures--;
        await write(data, offset, Math.min(length, 5));
        throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      },
      truncate: () => {
        Object.assign(handle, { truncate });
        return Promise.reject(Object.assign(new Error('input/output error'), { code: 'EIO' }));
      },
    });
    assert.equal((await sink.deliver([record('two'), record('three')])).status, 'retry');
    assert.equal(readFileSync(path, 'utf8'), 'one\ntwo\nt', 'the part written is still there');
    assert.deepEqual(await sink.deliver([record('two'), record('three')]), { status: 'delivered' });
    assert.equal(readFileSync(path, 'utf8'), 'one\ntwo\nthree\n', 'cut back to the last whole batch, then written');
    assert.equal(sink.position().file?.size, 14);
    await sink.close();
  });

  it('leaves a rotated file alone and writes to the new one after reopen', async () => {
    const dir = tempDir();
    const path = join(dir, 'out.ndjson');
    const sink = new FileSink('archive', path);
    await sink.open(undefined);
    await sink.deliver([record('before')]);
    const committed = sink.position();
    renameSync(path, `${path}.1`);
    await sink.reopen();
    await sink.deliver([record('after')]);
    assert.equal(readFileSync(`${path}.1`, 'utf8'), 'before\n');
    assert.equal(readFileSync(path, 'utf8'), 'after\n');
    await sink.close();
    // The committed position named the old inode: a new file is never cut.
    writeFileSync(path, 'after\nmore\n');
    const next = new FileSink('archive', path);
    await next.open(committed);
    assert.equal(statSync(path).size, 11);
    await next.close();
  });

  it('takes a lock so two writers never share a file', async () => {
    const path = join(tempDir(), 'out.ndjson');
    const a = new FileSink('a', path);
    await a.open(undefined);
    await assert.rejects(
      new FileSink('b', path).open(undefined),
      /file output b .* is in use by another cf-access-shipper process/,
    );
    await a.close();
  });

  it('reports retry when the path cannot be written', async () => {
    const dir = tempDir();
    const sink = new FileSink('x', dir); // a directory
    await assert.rejects(sink.open(undefined), /EISDIR|illegal operation/);
  });
});
