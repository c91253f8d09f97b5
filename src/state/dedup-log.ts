/**
 * The hashes of delivered events that sweeps of the overlap compare against, kept out of the
 * state file so that a state save costs the same whatever the overlap holds. They live in memory
 * (one DedupIndex per account and output) and in an append-only journal beside the state,
 * `<state>.dedup.<generation>`: each save appends what changed since the last one, fsyncs it, and
 * records the journal's length in the state file. On open the journal is read up to the length
 * the state recorded, so a tail written after the last successful save (a crash, a failed save)
 * is ignored like the uncommitted tail of a file output. When most of a journal is forgotten
 * entries, the live ones are written to the next generation; the one before stays until the
 * next compaction, so the state's `.bak` can still be recovered.
 */
import { closeSync, constants, existsSync, openSync, promises as fs, readdirSync, readSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Hashes by created_at of one (account, output): what a sweep must not ship again. */
export class DedupIndex {
  private readonly seen = new Map<string, Set<string>>();

  constructor(private readonly journal?: (entry: string) => void) {}

  /** Whether anything was delivered at `time` (checked first, so a lone row needs no hash). */
  hasTime(time: string): boolean {
    return this.seen.has(time);
  }

  has(time: string, hash: string): boolean {
    return this.seen.get(time)?.has(hash) === true;
  }

  add(time: string, hash: string): void {
    let set = this.seen.get(time);
    if (!set) {
      set = new Set();
      this.seen.set(time, set);
    }
    if (set.has(hash)) return;
    set.add(hash);
    this.journal?.(`a ${time} ${hash}`);
  }

  /** Forgets every hash before `bound`. */
  forgetBefore(bound: string): void {
    let forgot = false;
    for (const time of this.seen.keys()) {
      if (time < bound) {
        this.seen.delete(time);
        forgot = true;
      }
    }
    if (forgot) this.journal?.(`f ${bound}`);
  }

  get size(): number {
    let n = 0;
    for (const set of this.seen.values()) n += set.size;
    return n;
  }

  entries(): [string, string[]][] {
    return [...this.seen].map(([time, set]) => [time, [...set]]);
  }

  /** Applies a journal line without journaling it again. */
  replay(op: string, time: string, hash: string | undefined): void {
    if (op === 'a' && hash !== undefined) {
      let set = this.seen.get(time);
      if (!set) {
        set = new Set();
        this.seen.set(time, set);
      }
      set.add(hash);
    } else if (op === 'f') {
      for (const at of this.seen.keys()) if (at < time) this.seen.delete(at);
    }
  }
}

export interface JournalPosition {
  generation: number;
  length: number;
}

/** Below this, a journal is never compacted. */
const COMPACT_FROM_BYTES = 8 * 1024 * 1024;

export class DedupLog {
  private readonly indexes = new Map<string, DedupIndex>();
  private pending: string[] = [];
  private generation: number;
  private length: number;

  private constructor(
    private readonly statePath: string,
    position: JournalPosition | undefined,
  ) {
    this.generation = position?.generation ?? 0;
    this.length = position?.length ?? 0;
  }

  private static fileFor(statePath: string, generation: number): string {
    return `${statePath}.dedup.${generation}`;
  }

  /** Reads the journal the state names, up to the length it recorded; a missing journal is empty. */
  static open(statePath: string, position: JournalPosition | undefined): DedupLog {
    const log = new DedupLog(statePath, position);
    if (position && position.length > 0) {
      const path = DedupLog.fileFor(statePath, position.generation);
      if (existsSync(path)) {
        const text = readPrefix(path, position.length);
        for (const line of text.split('\n')) log.replayLine(line);
      }
    }
    return log;
  }

  private key(account: string, output: string): string {
    return `${account} ${output}`;
  }

  /** Forgets everything (a backfill started over): the next save starts an empty generation. */
  reset(): void {
    this.indexes.clear();
    this.pending = [];
    this.generation++;
    this.length = 0;
  }

  /** The index of one account and output (created empty, and journaled, on first use). */
  index(account: string, output: string): DedupIndex {
    const key = this.key(account, output);
    let index = this.indexes.get(key);
    if (!index) {
      index = new DedupIndex((entry) => {
        this.pending.push(`${key} ${entry}\n`);
      });
      this.indexes.set(key, index);
    }
    return index;
  }

  /**
   * Writes what changed since the last flush (or, when most of the journal is dead, a compacted
   * next generation), fsynced; returns the position a state save records.
   */
  async flush(): Promise<JournalPosition> {
    const lines = this.pending;
    this.pending = [];
    if (this.length > COMPACT_FROM_BYTES && this.length > 4 * this.liveBytes()) return this.compact();
    if (lines.length === 0) return { generation: this.generation, length: this.length };
    const data = lines.join('');
    const handle = await fs.open(
      DedupLog.fileFor(this.statePath, this.generation),
      constants.O_WRONLY | constants.O_CREAT,
      0o600,
    );
    try {
      // Past what the state recorded there may be a tail of a failed save: overwrite from the known end.
      await handle.truncate(this.length);
      await handle.write(data, this.length, 'utf8');
      await handle.sync();
    } catch (error) {
      this.pending = [...lines, ...this.pending];
      throw error;
    } finally {
      await handle.close();
    }
    this.length += Buffer.byteLength(data);
    return { generation: this.generation, length: this.length };
  }

  /** A state save recorded `position`: generations older than the one before it can go. */
  committed(position: JournalPosition): void {
    const prefix = `${basename(this.statePath)}.dedup.`;
    for (const name of readdirSync(dirname(this.statePath))) {
      if (!name.startsWith(prefix)) continue;
      const generation = Number(name.slice(prefix.length));
      if (Number.isInteger(generation) && generation < position.generation - 1)
        rmSync(join(dirname(this.statePath), name), { force: true });
    }
  }

  private liveBytes(): number {
    let n = 0;
    for (const index of this.indexes.values()) n += index.size * 60;
    return n;
  }

  private async compact(): Promise<JournalPosition> {
    const lines: string[] = [];
    for (const [key, index] of this.indexes)
      for (const [time, hashes] of index.entries()) for (const hash of hashes) lines.push(`${key} a ${time} ${hash}\n`);
    const data = lines.join('');
    const next = this.generation + 1;
    const handle = await fs.open(DedupLog.fileFor(this.statePath, next), 'w', 0o600);
    try {
      await handle.write(data, 0, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    this.generation = next;
    this.length = Buffer.byteLength(data);
    return { generation: this.generation, length: this.length };
  }

  private replayLine(line: string): void {
    const [account, output, op, time, hash] = line.split(' ');
    if (account === undefined || output === undefined || op === undefined || time === undefined) return;
    const key = this.key(account, output);
    let index = this.indexes.get(key);
    if (!index) {
      this.index(account, output);
      index = this.indexes.get(key);
    }
    index?.replay(op, time, hash);
  }
}

/** The first `length` bytes of a file (what a state save recorded), as text. */
function readPrefix(path: string, length: number): string {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const n = readSync(fd, buffer, read, length - read, read);
      if (n === 0) break;
      read += n;
    }
    // A journal shorter than recorded lost its tail: keep the complete lines.
    const text = buffer.subarray(0, read).toString('utf8');
    return read < length ? text.slice(0, text.lastIndexOf('\n') + 1) : text;
  } finally {
    closeSync(fd);
  }
}
