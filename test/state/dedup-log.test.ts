import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateStore } from '../../src/state/store.js';
import { tempDir } from '../support/harness.js';

const ACCOUNT = '0123456789abcdef0123456789abcdef';
const T = (s: number): string =>
  `2024-05-01T10:${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}.000000000Z`;

describe("state/dedup-log: the overlap's hashes beside the state", () => {
  it('survives a reopen, and a tail written after the last state save is ignored (a failed save, a crash)', async () => {
    const path = join(tempDir(), 'state.json');
    let store = await StateStore.open(path);
    store.dedup!.index(ACCOUNT, 'archive').add(T(1), 'hash-one');
    await store.save();
    // Journaled but never recorded by a state save: as if the state write failed after the append.
    store.dedup!.index(ACCOUNT, 'archive').add(T(2), 'hash-two');
    await store.dedup!.flush();
    store.releaseLockNow();
    store = await StateStore.open(path);
    const index = store.dedup!.index(ACCOUNT, 'archive');
    assert.ok(index.has(T(1), 'hash-one'));
    assert.ok(!index.has(T(2), 'hash-two'), 'past the recorded length: not committed');
    // The next save overwrites that tail rather than appending after it.
    index.add(T(3), 'hash-three');
    await store.save();
    await store.close();
    store = await StateStore.open(path);
    assert.ok(store.dedup!.index(ACCOUNT, 'archive').has(T(3), 'hash-three'));
    assert.ok(!store.dedup!.index(ACCOUNT, 'archive').has(T(2), 'hash-two'));
    await store.close();
  });

  it('a state save costs the same whatever the overlap holds: the state file stays small, the journal grows by what changed', async () => {
    const sizes: { state: number; appended: number }[] = [];
    for (const held of [100, 100_000]) {
      const path = join(tempDir(), 'state.json');
      const store = await StateStore.open(path);
      const index = store.dedup!.index(ACCOUNT, 'archive');
      for (let i = 0; i < held; i++) index.add(T(i % 3000), `h${i}`);
      await store.save();
      const before = store.data.dedup_log!.length;
      index.add(T(3001), 'one-more');
      await store.save();
      sizes.push({ state: statSync(path).size, appended: store.data.dedup_log!.length - before });
      await store.close();
    }
    console.log(
      `      state file with 100 / 100,000 hashes held: ${sizes[0]!.state} / ${sizes[1]!.state} bytes; journal appended per save: ${sizes[0]!.appended} / ${sizes[1]!.appended} bytes`,
    );
    assert.ok(Math.abs(sizes[0]!.state - sizes[1]!.state) <= 8, 'only the recorded journal length differs');
    assert.equal(sizes[0]!.appended, sizes[1]!.appended);
  });

  it('compacts a journal of mostly forgotten hashes into the next generation and keeps the one before for .bak', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.json');
    let store = await StateStore.open(path);
    const index = store.dedup!.index(ACCOUNT, 'archive');
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 60_000; i++) index.add(T(round * 1000 + (i % 900)), `r${round}-${i}`);
      index.forgetBefore(T(round * 1000 + 899)); // all but the last second of the round
      await store.save();
    }
    index.add(T(3500), 'last');
    await store.save();
    const generations = readdirSync(dir).filter((f) => f.startsWith('state.json.dedup.'));
    console.log(
      `      journal files after compaction: ${generations.join(', ')} (${generations.map((f) => statSync(join(dir, f)).size).join(' / ')} bytes)`,
    );
    assert.ok(store.data.dedup_log!.generation >= 1, 'compacted at least once');
    assert.ok(generations.length <= 2);
    const live = index.size;
    await store.close();
    store = await StateStore.open(path);
    assert.equal(store.dedup!.index(ACCOUNT, 'archive').size, live);
    assert.ok(store.dedup!.index(ACCOUNT, 'archive').has(T(3500), 'last'));
    await store.close();
  });

  it('moves hashes kept inline by an older release into the journal', async () => {
    const path = join(tempDir(), 'state.json');
    const legacy = {
      version: 1,
      sinks: {},
      api: {},
      accounts: {
        [ACCOUNT]: { outputs: { archive: { checkpoint: T(10), dedup: { [T(5)]: ['old-hash'] }, delivered: 1 } } },
      },
    };
    writeFileSync(path, JSON.stringify(legacy));
    let store = await StateStore.open(path);
    assert.ok(store.dedup!.index(ACCOUNT, 'archive').has(T(5), 'old-hash'));
    await store.save();
    await store.close();
    assert.deepEqual(
      (JSON.parse(readFileSync(path, 'utf8')) as typeof legacy).accounts[ACCOUNT].outputs.archive.dedup,
      {},
    );
    store = await StateStore.open(path);
    assert.ok(store.dedup!.index(ACCOUNT, 'archive').has(T(5), 'old-hash'));
    await store.close();
  });
});
