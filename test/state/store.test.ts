import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateStore } from '../../src/state/store.js';
import { acquireLock } from '../../src/state/lock.js';
import { tempDir } from '../support/harness.js';

describe('state/store', () => {
  it('starts empty, saves atomically and keeps the previous save as .bak', async () => {
    const path = join(tempDir(), 'sub', 'state.json');
    const store = await StateStore.open(path);
    assert.deepEqual(store.data, { version: 1, accounts: {}, sinks: {}, api: {} });
    store.data.api.cooldown_reason = 'first';
    await store.save();
    store.data.api.cooldown_reason = 'second';
    await Promise.all([store.save(), store.save()]); // joined: one save
    await store.close();
    assert.equal((JSON.parse(readFileSync(path, 'utf8')) as { api: { cooldown_reason: string } }).api.cooldown_reason, 'second');
    assert.equal((JSON.parse(readFileSync(`${path}.bak`, 'utf8')) as { api: { cooldown_reason: string } }).api.cooldown_reason, 'first');
    assert.ok(!existsSync(`${path}.lock`), 'lock released');
  });

  it('joins saves asked for before a waiting save starts, and never loses a later change', async () => {
    const path = join(tempDir(), 'state.json');
    const store = await StateStore.open(path);
    const read = () => (JSON.parse(readFileSync(path, 'utf8')) as { api: { cooldown_reason?: string } }).api.cooldown_reason;
    store.data.api.cooldown_reason = 'a';
    const first = store.save();
    store.data.api.cooldown_reason = 'b';
    const joined = store.save(); // the first has not started: it will write "b"
    assert.equal(joined, first);
    await first;
    assert.equal(read(), 'b');
    const writing = store.save();
    await new Promise((resolve) => setImmediate(resolve)); // now under way, with "b"
    store.data.api.cooldown_reason = 'c';
    const later = store.save(); // a change after a save started needs a save of its own
    assert.notEqual(later, writing);
    await later;
    assert.equal(read(), 'c');
    await store.close();
  });

  it('refuses an empty, truncated or foreign file and says how to recover', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.json');
    for (const [content, reason] of [['', /the file is empty/], ['{"version":1,"acc', /not valid JSON/], ['{"version":2}', /unexpected content at version/]] as const) {
      writeFileSync(path, content);
      await assert.rejects(StateStore.open(path), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'ERR_STATE_CORRUPT');
        assert.match(error.message, reason);
        assert.match(error.message, /move .* away to start over/);
        return true;
      });
      assert.ok(!existsSync(`${path}.lock`), 'lock released after a failed open');
    }
  });

  it('treats a missing file with a .bak beside it as an error, and recovers from the .bak', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.json');
    const store = await StateStore.open(path);
    store.data.api.cooldown_reason = 'kept';
    await store.save();
    await store.save();
    await store.close();
    writeFileSync(path, '{"trunc');
    await assert.rejects(StateStore.open(path), /--recover-from-backup/);
    const recovered = await StateStore.open(path, { recoverFromBackup: true });
    assert.equal(recovered.data.api.cooldown_reason, 'kept');
    await recovered.close();
    const { rmSync } = await import('node:fs');
    rmSync(path);
    await assert.rejects(StateStore.open(path), /is missing but .*\.bak exists/);
  });

  it('locks: a live holder is refused by pid, a stale lock is taken over', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.json');
    const store = await StateStore.open(path);
    await assert.rejects(StateStore.open(path), new RegExp(`pid ${process.pid}`));
    await store.close();
    writeFileSync(`${path}.lock`, '2147483646\n');
    const again = await StateStore.open(path);
    assert.equal(readFileSync(`${path}.lock`, 'utf8').trim(), String(process.pid));
    await again.close();
    const lock = acquireLock(join(dir, 'x.lock'), 'file output x');
    assert.throws(() => acquireLock(join(dir, 'x.lock'), 'file output x'), /file output x is in use/);
    lock.release();
  });

  it('read-only open neither locks nor writes', async () => {
    const path = join(tempDir(), 'state.json');
    const store = await StateStore.open(path, { readOnly: true });
    assert.ok(!existsSync(`${path}.lock`));
    await assert.rejects(store.save(), /read-only/);
  });
});
