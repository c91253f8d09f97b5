/**
 * One output's lane through a poll: its cursor, the hashes of pages in flight, and deliveries
 * started in page order with at most `sink.concurrency` in flight (1 for files, stdout, syslog).
 * A delivery's result is applied to the cursor only when its page commits, in page order.
 */
import type { AccessEvent } from '../format/event.js';
import type { Logger } from '../ops/logger.js';
import { writeDeadLetters } from '../sink/dead-letter.js';
import type { OutputRecord } from '../sink/types.js';
import type { SinkState } from '../state/schema.js';
import type { Clock } from '../source/rate-limiter.js';
import { backoffDelay } from '../source/retry.js';
import { OutputCursor, type Row, rowHash } from './cursor.js';
import { deliverWithRetry } from './deliver.js';
import type { OutputRuntime } from './poll.js';

export type { Row } from './cursor.js';

interface SameTime {
  rows: Set<Row>;
  hashes?: Map<string, number>;
}

/**
 * Rows selected in pages not committed yet, by time. Most times hold one row, kept as is; a second
 * row at the same time turns the slot into a group, hashed only when a lookup needs it.
 */
class InFlight {
  private readonly byTime = new Map<string, Row | SameTime>();

  /** Adds `row` unless the same event is in flight already (one map lookup for both). */
  addIfNew(row: Row): boolean {
    const slot = this.byTime.get(row.time);
    if (!slot) {
      this.byTime.set(row.time, row);
      return true;
    }
    if (!('rows' in slot)) {
      if (rowHash(slot) === rowHash(row)) return false;
    } else {
      if (!slot.hashes) {
        slot.hashes = new Map();
        for (const other of slot.rows) slot.hashes.set(rowHash(other), (slot.hashes.get(rowHash(other)) ?? 0) + 1);
      }
      if (slot.hashes.has(rowHash(row))) return false;
    }
    const group: SameTime = 'rows' in slot ? slot : { rows: new Set([slot]) };
    if (group !== slot) this.byTime.set(row.time, group);
    group.rows.add(row);
    if (group.hashes) group.hashes.set(rowHash(row), (group.hashes.get(rowHash(row)) ?? 0) + 1);
    return true;
  }

  delete(row: Row): void {
    const slot = this.byTime.get(row.time);
    if (!slot) return;
    if (!('rows' in slot)) {
      if (slot === row) this.byTime.delete(row.time);
      return;
    }
    if (!slot.rows.delete(row)) return;
    if (slot.rows.size === 0) {
      this.byTime.delete(row.time);
      return;
    }
    if (slot.hashes) {
      const hash = rowHash(row);
      const count = (slot.hashes.get(hash) ?? 1) - 1;
      if (count <= 0) slot.hashes.delete(hash);
      else slot.hashes.set(hash, count);
    }
  }
}

/**
 * A record whose text is formatted when it is read. Formatting is pure and takes about a
 * microsecond; sinks read the text once per attempt, so a batch waiting seconds for its HEC
 * acknowledgement holds no formatted lines (measured: less for V8's young-generation GC to copy).
 */
class FormattedOnRead implements OutputRecord {
  constructor(
    readonly event: AccessEvent,
    readonly epochMs: number,
    readonly accountId: string,
    private readonly format: OutputRuntime['format'],
  ) {}

  get text(): string {
    return this.format(this.event, { accountId: this.accountId, epochMs: this.epochMs });
  }
}

export type PageDelivery =
  | { ok: true; selected: Row[]; shipped: number; deadLettered: number; position: SinkState | undefined }
  | { ok: false; error: Error };

export interface LaneDeps {
  logger: Logger;
  clock: Clock;
  deliveryAttempts: number;
  signal?: AbortSignal | undefined;
  deadLetterPath?: ((output: string) => string) | undefined;
}

export class OutputLane {
  failed: Error | undefined;
  shipped = 0;
  deadLettered = 0;
  duplicates = 0;
  /** Counted since the last state save. */
  unsaved = 0;
  unsavedDeadLettered = 0;
  readonly floor: string;
  private readonly inflight = new InFlight();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly runtime: OutputRuntime,
    readonly cursor: OutputCursor,
    private readonly deps: LaneDeps,
  ) {
    this.floor = cursor.floor;
  }

  get name(): string {
    return this.runtime.name;
  }

  get concurrency(): number {
    return Math.max(1, this.runtime.sink.concurrency);
  }

  /** This output's share of a page: in its window, not delivered before, not already in flight. */
  select(rows: readonly Row[]): Row[] {
    const selected: Row[] = [];
    for (const row of rows) {
      if (row.time < this.floor) continue;
      if (this.cursor.has(row) || !this.inflight.addIfNew(row)) {
        this.duplicates++;
        continue;
      }
      selected.push(row);
    }
    return selected;
  }

  /** Starts delivering `selected` once a slot is free (slots are granted in call order). */
  deliver(selected: Row[], accountId: string): Promise<PageDelivery> {
    return this.slot(async () => {
      if (this.failed) return { ok: false, error: this.failed };
      if (selected.length === 0) return { ok: true, selected, shipped: 0, deadLettered: 0, position: this.runtime.sink.position() };
      const format = this.runtime.format;
      const records: OutputRecord[] = selected.map((row) => new FormattedOnRead(row.event, row.epochMs, accountId, format));
      const outcome = await deliverWithRetry(this.runtime, records, {
        attempts: this.deps.deliveryAttempts,
        clock: this.deps.clock,
        logger: this.deps.logger,
        signal: this.deps.signal,
        backoff: (n) => backoffDelay(n, { baseMs: 1000, capMs: 30_000 }),
      });
      if (outcome.status !== 'delivered') {
        this.failed ??= outcome.error;
        return { ok: false, error: outcome.error };
      }
      // The position right after this batch: what a commit of this page may claim (file outputs).
      const position = this.runtime.sink.position();
      if (outcome.rejected.length > 0) {
        const path = this.deps.deadLetterPath?.(this.name);
        if (path === undefined) {
          const error = new Error(`output ${this.name}: ${outcome.rejected.length} record(s) rejected and no dead-letter file configured`);
          this.failed ??= error;
          return { ok: false, error };
        }
        await writeDeadLetters(path, this.name, outcome.rejected, this.deps.clock.now());
        this.deps.logger.warn(`output ${this.name}: ${outcome.rejected.length} record(s) rejected by the peer (${outcome.rejected[0]?.reason ?? ''}); written to ${path}`, { output: this.name });
      }
      return { ok: true, selected, shipped: selected.length - outcome.rejected.length, deadLettered: outcome.rejected.length, position };
    });
  }

  /** Applies a committed page: rejected records are passed too, so they never block the stream. */
  commit(result: PageDelivery, pageMax: string): boolean {
    if (!result.ok) {
      this.failed ??= result.error;
      return false;
    }
    if (this.failed) return false; // an earlier page failed: nothing after it may commit
    const lastTime = result.selected.reduce((max, row) => (row.time > max ? row.time : max), '');
    this.cursor.advance(result.selected, lastTime === '' ? this.cursor.checkpoint : lastTime);
    if (pageMax !== '') this.cursor.advance([], pageMax);
    for (const row of result.selected) this.inflight.delete(row);
    this.shipped += result.shipped;
    this.unsaved += result.shipped;
    this.deadLettered += result.deadLettered;
    this.unsavedDeadLettered += result.deadLettered;
    return true;
  }

  /** FIFO slots: a released slot is handed straight to the next waiter, so batches start in page order. */
  private async slot<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency || this.waiting.length > 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
