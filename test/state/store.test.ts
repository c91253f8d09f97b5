import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { StateStore } from '../../src/state/store.js';
import { acquireLock } from '../../src/state/lock.js';
import { tempDir } from '../support/harness.js';

const execFileAsync = promisify(execFile);

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
    assert.equal(
      (JSON.parse(readFileSync(path, 'utf8')) as { api: { cooldown_reason: string } }).api.cooldown_reason,
      'second',
    );
    assert.equal(
      (JSON.parse(readFileSync(`${path}.bak`, 'utf8')) as { api: { cooldown_reason: string } }).api.cooldown_reason,
      'first',
    );
    assert.ok(!existsSync(`${path}.lock`), 'lock released');
  });

  it('joins saves asked for before a waiting save starts, and never loses a later change', async () => {
    const path = join(tempDir(), 'state.json');
    const store = await StateStore.open(path);
    const read = () =>
      (JSON.parse(readFileSync(path, 'utf8')) as { api: { cooldown_reason?: string } }).api.cooldown_reason;
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
    for (const [content, reason] of [
      ['', /the file is empty/],
      ['{"version":1,"acc', /not valid JSON/],
      ['{"version":2}', /written by a newer release of cf-access-shipper \(state version 2/],
      ['{"version":"x"}', /unexpected content at version/],
    ] as const) {
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

  it('locks: an empty lock still being written is not taken over; one naming a live process that is not its owner (pid reused) is', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.json');
    writeFileSync(`${path}.lock`, '');
    await assert.rejects(
      StateStore.open(path),
      /is in use by another cf-access-shipper process/,
      'a fresh empty lock: its creator is writing its pid',
    );
    utimesSync(`${path}.lock`, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    (await StateStore.open(path)).releaseLockNow();
    // The parent process is alive but started at another time than the lock says: the pid was reused.
    writeFileSync(
      `${path}.lock`,
      `${process.ppid} ${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()} 1\n`,
    );
    (await StateStore.open(path)).releaseLockNow();
    // Another boot: whatever runs under that pid now is not the owner.
    writeFileSync(`${path}.lock`, `${process.ppid} 00000000-0000-0000-0000-000000000000 1\n`);
    (await StateStore.open(path)).releaseLockNow();
    // The real owner, alive: refused.
    const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
    writeFileSync(
      `${path}.lock`,
      `${process.ppid} ${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()} ${start}\n`,
    );
    await assert.rejects(StateStore.open(path), new RegExp(`pid ${process.ppid}`));
  });

  it('locks: of 12 processes racing for one lock, exactly one holds it', async () => {
    const dir = tempDir();
    const lockPath = join(dir, 'race.lock');
    const script = `import { acquireLock } from ${JSON.stringify(new URL('../../src/state/lock.ts', import.meta.url).pathname)};
      const start = Number(process.argv[1]); while (Date.now() < start) {}
      try { acquireLock(${JSON.stringify(lockPath)}); console.log('held'); setTimeout(() => {}, 3000); } catch { console.log('refused'); }`;
    const start = Date.now() + 5000; // every child is up by then (tsx starts slowly on a loaded machine)
    const children = Array.from({ length: 12 }, () =>
      execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, String(start)]),
    );
    const outputs = (await Promise.all(children)).map((r) => r.stdout.trim());
    console.log(
      `      ${outputs.filter((o) => o === 'held').length} held, ${outputs.filter((o) => o === 'refused').length} refused`,
    );
    assert.equal(outputs.filter((o) => o === 'held').length, 1);
  });

  it('locks: a live holder is refused by pid, a stale lock is taken over', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.json');
    const store = await StateStore.open(path);
    await assert.rejects(StateStore.open(path), new RegExp(`pid ${process.pid}`));
    await store.close();
    writeFileSync(`${path}.lock`, '2147483646\n');
    const again = await StateStore.open(path);
    assert.equal(readFileSync(`${path}.lock`, 'utf8').trim().split(' ')[0], String(process.pid));
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
