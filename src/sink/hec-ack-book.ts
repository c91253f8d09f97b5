/**
 * What the HEC output has sent and not yet seen committed, by event id: the request that carries
 * each event, its ackId once HEC gave one, and whether HEC confirmed it. It outlives the batch
 * (a retried or re-read batch resends only what HEC did not accept) and, through a journal beside
 * the state file, the process: after kill -9 the next run asks HEC about the ackIds still open
 * before sending anything again (Filebeat keeps its cursor the same way, beside the registry).
 *
 * Journal: one JSON object per line, appended with write(2) and no fsync — a killed process
 * leaves it in the page cache; after a power loss the events are resent (duplicates, never a
 * loss). Lines: intent `{"q","b","t","i"}` before a request, `{"q","k","c"}` ackId (and cookie),
 * `{"q","ok":1}` confirmed, `{"q","cut":1}` cut after the peer may have read it, `{"q","x":1}`
 * gone. It is rewritten with the live entries when it grows past `COMPACT_BYTES`.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

/** sending: in flight · maybe: cut after the peer may have read it · pending: has an ackId · confirmed: HEC has it. */
export type AckEntryState = 'sending' | 'maybe' | 'pending' | 'confirmed';

export interface AckEntry {
  readonly seq: number;
  /** The HEC base URL the request went to (an ackId belongs to one indexer). */
  readonly base: string;
  readonly ids: readonly string[];
  /** When the request was sent (epoch ms). */
  sentAt: number;
  state: AckEntryState;
  ackId?: number;
  /** The load balancer's affinity cookie the ackId was issued under (sent back with the /ack poll). */
  cookie?: string;
  /** Ids of this entry not yet settled. */
  live: number;
  /** Its events counted as possible duplicates when they were sent again (once per process). */
  counted?: Set<string>;
}

interface JournalLine {
  q: number;
  b?: string;
  t?: number;
  i?: string[];
  k?: number;
  c?: string;
  ok?: 1;
  cut?: 1;
  x?: 1;
}

const COMPACT_BYTES = 8 * 1024 * 1024;
/** Entries of an earlier run older than this are forgotten at open (Splunk drops idle channels' acks long before). */
const RESTORED_MAX_AGE_MS = 24 * 3600_000;

export class AckBook {
  private readonly byId = new Map<string, AckEntry>();
  private readonly entries = new Map<number, AckEntry>();
  private nextSeq = 1;
  private fd: number | undefined;
  private written = 0;

  /** `path` undefined: kept in memory only (no restart memory). */
  constructor(
    private readonly path: string | undefined,
    private readonly now: () => number,
  ) {}

  /** Reads the journal of an earlier run (intents without an answer become `maybe`) and opens it for appending. */
  open(): { pending: number; maybe: number; confirmed: number } {
    const counts = { pending: 0, maybe: 0, confirmed: 0 };
    if (this.path === undefined || this.fd !== undefined) return counts;
    if (existsSync(this.path)) {
      this.replay(readFileSync(this.path, 'utf8'));
      const oldest = this.now() - RESTORED_MAX_AGE_MS;
      for (const entry of [...this.entries.values()]) {
        if (entry.sentAt < oldest) this.forget(entry);
        else {
          if (entry.state === 'sending') entry.state = 'maybe';
          counts[entry.state]++;
        }
      }
    }
    this.compact();
    return counts;
  }

  private replay(text: string): void {
    for (const line of text.split('\n')) {
      if (line === '') continue;
      let record: JournalLine;
      try {
        record = JSON.parse(line) as JournalLine;
      } catch {
        continue; // a line cut by a crash mid-write: its request gets no ackId, so it is resent (counted)
      }
      if (typeof record.q !== 'number') continue;
      this.nextSeq = Math.max(this.nextSeq, record.q + 1);
      if (record.i && record.b !== undefined) {
        this.add({ seq: record.q, base: record.b, ids: record.i, sentAt: record.t ?? 0, state: 'sending', live: 0 });
        continue;
      }
      const entry = this.entries.get(record.q);
      if (!entry) continue;
      if (record.k !== undefined) {
        entry.ackId = record.k;
        entry.state = 'pending';
        if (record.c !== undefined) entry.cookie = record.c;
      }
      if (record.ok) entry.state = 'confirmed';
      if (record.cut) entry.state = 'maybe';
      if (record.x) this.forget(entry);
    }
  }

  private add(entry: AckEntry): void {
    for (const id of entry.ids) {
      const previous = this.byId.get(id);
      if (previous) this.release(previous);
      this.byId.set(id, entry);
      entry.live++;
    }
    this.entries.set(entry.seq, entry);
  }

  private release(entry: AckEntry): void {
    entry.live--;
    if (entry.live <= 0) this.entries.delete(entry.seq);
  }

  private forget(entry: AckEntry): void {
    for (const id of entry.ids) if (this.byId.get(id) === entry) this.byId.delete(id);
    entry.live = 0;
    this.entries.delete(entry.seq);
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(id: string): AckEntry | undefined {
    return this.byId.get(id);
  }

  /** A request to `base` carrying `ids` is about to be sent. */
  sending(base: string, ids: readonly string[]): AckEntry {
    const entry: AckEntry = { seq: this.nextSeq++, base, ids, sentAt: this.now(), state: 'sending', live: 0 };
    this.add(entry);
    this.append({ q: entry.seq, b: base, t: entry.sentAt, i: [...ids] });
    return entry;
  }

  acked(entry: AckEntry, ackId: number, cookie: string | undefined): void {
    entry.state = 'pending';
    entry.ackId = ackId;
    if (cookie !== undefined) entry.cookie = cookie;
    this.append(cookie === undefined ? { q: entry.seq, k: ackId } : { q: entry.seq, k: ackId, c: cookie });
  }

  confirmed(entry: AckEntry): void {
    entry.state = 'confirmed';
    this.append({ q: entry.seq, ok: 1 });
  }

  /** The connection broke after the peer may have read the request: its events may be indexed. */
  cut(entry: AckEntry): void {
    entry.state = 'maybe';
    this.append({ q: entry.seq, cut: 1 });
  }

  /** The request is resolved without a claim on its events (refused, or about to be resent). */
  drop(entry: AckEntry): void {
    if (!this.entries.has(entry.seq)) return;
    this.forget(entry);
    this.append({ q: entry.seq, x: 1 });
  }

  /** These events are committed and the commit is saved: nothing about them is needed any more. */
  settle(ids: Iterable<string>): void {
    for (const id of ids) {
      const entry = this.byId.get(id);
      if (!entry) continue;
      this.byId.delete(id);
      entry.live--;
      if (entry.live <= 0 && this.entries.delete(entry.seq)) this.append({ q: entry.seq, x: 1 });
    }
    if (this.written > COMPACT_BYTES) this.compact();
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private append(line: JournalLine): void {
    if (this.fd === undefined) return;
    const text = `${JSON.stringify(line)}\n`;
    this.written += writeSync(this.fd, text);
  }

  /** Rewrites the journal with the live entries only (tmp, then rename over it). */
  private compact(): void {
    if (this.path === undefined) return;
    const lines: string[] = [];
    for (const entry of this.entries.values()) {
      const ids = entry.ids.filter((id) => this.byId.get(id) === entry);
      lines.push(JSON.stringify({ q: entry.seq, b: entry.base, t: entry.sentAt, i: ids }));
      if (entry.ackId !== undefined)
        lines.push(
          JSON.stringify(
            entry.cookie === undefined
              ? { q: entry.seq, k: entry.ackId }
              : { q: entry.seq, k: entry.ackId, c: entry.cookie },
          ),
        );
      if (entry.state === 'confirmed') lines.push(JSON.stringify({ q: entry.seq, ok: 1 }));
      if (entry.state === 'maybe') lines.push(JSON.stringify({ q: entry.seq, cut: 1 }));
    }
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, lines.length > 0 ? `${lines.join('\n')}\n` : '');
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = openSync(this.path, 'a', 0o600);
    this.written = 0;
  }
}
