/**
 * One output's lane through a read: its cursor, a bounded queue of pages, the hashes of pages in
 * flight, and deliveries started in page order with at most `sink.concurrency` in flight (1 for
 * files, stdout, syslog). A delivery's result is applied to the cursor when its page commits, in
 * page order, on its own: a lane never waits for another output.
 */
import type { EventRecord } from '../format/record.js';
import type { Logger } from '../ops/logger.js';
import { writeDeadLetters } from '../sink/dead-letter.js';
import type { OutputRuntime } from '../sink/output-runtime.js';
import type { OutputRecord } from '../sink/types.js';
import type { SinkState } from '../state/schema.js';
import type { Clock } from '../clock.js';
import { backoffDelay } from '../net/backoff.js';
import { OutputCursor, type Row, rowHash } from './cursor.js';
import { deliverWithRetry } from '../sink/deliver.js';
import { eventId } from '../format/identity.js';
import type { DedupWindow } from '../push/dedup-window.js';

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
    private readonly row: Row,
    readonly accountId: string,
    private readonly format: OutputRuntime['format'],
  ) {}

  get event(): EventRecord {
    return this.row.event;
  }

  get epochMs(): number {
    return this.row.epochMs;
  }

  get time(): string {
    return this.row.time;
  }

  get id(): string {
    return (this.row.id ??= eventId(this.row.event));
  }

  get text(): string {
    return this.format(this.row.event, { accountId: this.accountId, epochMs: this.row.epochMs });
  }
}

export type PageDelivery =
  | {
      ok: true;
      selected: Row[];
      records: readonly OutputRecord[];
      shipped: number;
      deadLettered: number;
      position: SinkState | undefined;
    }
  | { ok: false; error: Error; fatal: boolean };

export interface LaneDeps {
  logger: Logger;
  clock: Clock;
  deliveryAttempts: number;
  signal?: AbortSignal | undefined;
  /** Cancels deliveries' waits (the shutdown deadline passed). */
  cancel?: AbortSignal | undefined;
  deadLetterPath?: ((output: string) => string) | undefined;
  /** After each commit, in order: the poll records the lane in the state and saves it. */
  onCommit?: (lane: OutputLane) => void;
}

/** The window a lane shares with the Logpush receiver (push/arrivals.ts), and how it knows an event. */
export interface SharedWindow {
  window: DedupWindow;
  identity: (event: EventRecord) => string;
}

const sharedKey = (shared: SharedWindow, row: Row): string => (row.shared ??= shared.identity(row.event));
const sharedSeen = (shared: SharedWindow, row: Row): boolean =>
  shared.window.size > 0 && shared.window.has(sharedKey(shared, row));

/** Pages a lane holds beyond the ones it is delivering: enough to keep the output busy. */
const QUEUED_PAGES = 2;

export class OutputLane {
  /** The first failure in page order: nothing after it commits in this read. */
  failed: Error | undefined;
  /** The failure was the output's own verdict (bad token, wrong index): it needs a person. */
  fatal = false;
  /** Still takes pages from the read; false once left behind (too slow) or failed. */
  attached = true;
  shipped = 0;
  deadLettered = 0;
  duplicates = 0;
  /** Counted since the last state save. */
  unsaved = 0;
  unsavedDeadLettered = 0;
  /** Records of pages committed since the last save: the sink may forget them once it is saved. */
  unsettled: (readonly OutputRecord[])[] = [];
  /** The output's position after the last committed batch (file outputs). */
  position: SinkState | undefined;
  positionChanged = false;
  /** The read window completed for this lane since the last save (its `last_success`). */
  windowDone = false;
  /** How much longer, in all, the read may wait for room in this lane before leaving it behind. */
  patienceMs: number;
  private readonly inflight = new InFlight();
  /** A delivery failed (maybe of a later page than the last commit): start no new ones. */
  private halted: Error | undefined;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private queued = 0;
  private roomWaiters: (() => void)[] = [];
  private commits: Promise<void> = Promise.resolve();
  /** Set when the account is also pushed: what the receiver shipped to this output is skipped. */
  shared: SharedWindow | undefined;

  constructor(
    readonly runtime: OutputRuntime,
    readonly cursor: OutputCursor,
    private readonly deps: LaneDeps,
    patienceMs = Number.POSITIVE_INFINITY,
  ) {
    this.patienceMs = patienceMs;
  }

  get name(): string {
    return this.runtime.name;
  }

  get floor(): string {
    return this.cursor.floor;
  }

  get concurrency(): number {
    return Math.max(1, this.runtime.sink.concurrency);
  }

  /** Pages this lane holds at most: the ones being delivered and a few waiting. */
  get capacity(): number {
    return this.concurrency + QUEUED_PAGES;
  }

  /** Whether the read should still hand this lane pages. */
  get takesPages(): boolean {
    return this.attached && this.halted === undefined && this.failed === undefined;
  }

  /**
   * Waits until the lane has room for one more page, using up its patience: 'out of patience'
   * when it ran out first (the read leaves the output behind), 'closed' when the lane failed.
   */
  async waitForRoom(): Promise<'room' | 'out of patience' | 'closed'> {
    while (this.queued >= this.capacity && this.isOpen()) {
      if (this.patienceMs <= 0) return 'out of patience';
      const started = this.deps.clock.now();
      const giveUp = new AbortController();
      const room = new Promise<boolean>((resolve) => this.roomWaiters.push(() => resolve(true)));
      const timeout = Number.isFinite(this.patienceMs)
        ? this.deps.clock.sleep(this.patienceMs, giveUp.signal).then(
            () => false,
            () => true,
          )
        : new Promise<boolean>(() => undefined);
      const freed = await Promise.race([room, timeout]);
      giveUp.abort();
      this.patienceMs -= Math.max(0, this.deps.clock.now() - started);
      if (!freed && this.isOpen()) return 'out of patience';
    }
    return this.isOpen() ? 'room' : 'closed';
  }

  /** Takes a page: selects this output's share, starts its delivery and queues its commit. */
  push(rows: readonly Row[], pageMax: string, accountId: string): void {
    const selected = this.select(rows);
    const delivery = this.deliver(selected, accountId);
    this.queued++;
    this.commits = this.commits.then(async () => {
      const outcome = await delivery;
      this.commit(outcome, pageMax);
      this.queued--;
      this.wakeRoomWaiters();
    });
  }

  /** Applies `change` to the cursor once every page handed over before it has committed. */
  mark(change: (cursor: OutputCursor) => void): void {
    this.commits = this.commits.then(() => {
      if (this.failed) return;
      change(this.cursor);
      this.deps.onCommit?.(this);
    });
  }

  /** Resolves when every page handed over so far has committed or failed. */
  drained(): Promise<void> {
    return this.commits;
  }

  /** This output's share of a page: in its window, not delivered before, not already in flight. */
  select(rows: readonly Row[]): Row[] {
    const selected: Row[] = [];
    const floor = this.cursor.floor;
    for (const row of rows) {
      if (row.time < floor) continue;
      if (this.cursor.has(row) || (this.shared && sharedSeen(this.shared, row)) || !this.inflight.addIfNew(row)) {
        this.duplicates++;
        continue;
      }
      selected.push(row);
    }
    return selected;
  }

  /** Delivers `selected` once a slot is free (slots are granted in call order). Never rejects. */
  private deliver(selected: Row[], accountId: string): Promise<PageDelivery> {
    return this.slot(async () => {
      if (this.halted) return { ok: false, error: this.halted, fatal: false };
      try {
        const outcome = await this.attempt(selected, accountId);
        if (!outcome.ok) this.halted ??= outcome.error;
        return outcome;
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        this.halted ??= failure;
        return { ok: false, error: failure, fatal: false };
      }
    });
  }

  private async attempt(selected: Row[], accountId: string): Promise<PageDelivery> {
    if (selected.length === 0)
      return { ok: true, selected, records: [], shipped: 0, deadLettered: 0, position: this.runtime.sink.position() };
    const format = this.runtime.format;
    const records: OutputRecord[] = selected.map((row) => new FormattedOnRead(row, accountId, format));
    const outcome = await deliverWithRetry(this.runtime, records, {
      attempts: this.deps.deliveryAttempts,
      clock: this.deps.clock,
      logger: this.deps.logger,
      signal: this.deps.signal,
      cancel: this.deps.cancel,
      backoff: (n) => backoffDelay(n, { baseMs: 1000, capMs: 30_000 }),
    });
    if (outcome.status !== 'delivered') return { ok: false, error: outcome.error, fatal: outcome.fatal };
    // The position right after this batch: what a commit of this page may claim (file outputs).
    const position = this.runtime.sink.position();
    if (outcome.rejected.length > 0) {
      const path = this.deps.deadLetterPath?.(this.name);
      if (path === undefined) {
        return {
          ok: false,
          error: new Error(
            `output ${this.name}: ${outcome.rejected.length} record(s) rejected and no dead-letter file configured`,
          ),
          fatal: true,
        };
      }
      try {
        await writeDeadLetters(path, this.name, outcome.rejected, this.deps.clock.now());
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        return {
          ok: false,
          error: new Error(
            `output ${this.name}: ${outcome.rejected.length} record(s) rejected by the peer, and the dead-letter file ${path} cannot be written (${reason}); the batch is offered again later`,
            { cause: error },
          ),
          fatal: false,
        };
      }
      this.deps.logger.warn(
        `output ${this.name}: ${outcome.rejected.length} record(s) rejected by the peer (${outcome.rejected[0]?.reason ?? ''}); written to ${path}`,
        { output: this.name },
      );
    }
    if (this.shared) for (const row of selected) this.shared.window.add(sharedKey(this.shared, row));
    return {
      ok: true,
      selected,
      records,
      shipped: selected.length - outcome.rejected.length,
      deadLettered: outcome.rejected.length,
      position,
    };
  }

  /** Applies a delivered page, in page order; rejected records are passed too, so they never block the stream. */
  private commit(result: PageDelivery, pageMax: string): void {
    if (this.failed) return; // an earlier page failed: nothing after it may commit
    if (!result.ok) {
      this.failed = result.error;
      this.fatal = result.fatal;
      this.attached = false;
      return;
    }
    const lastTime = result.selected.reduce((max, row) => (row.time > max ? row.time : max), '');
    this.cursor.advance(result.selected, lastTime === '' ? this.cursor.checkpoint : lastTime);
    if (pageMax !== '') this.cursor.advance([], pageMax);
    for (const row of result.selected) this.inflight.delete(row);
    if (result.records.length > 0 && this.runtime.sink.settled) this.unsettled.push(result.records);
    this.shipped += result.shipped;
    this.unsaved += result.shipped;
    this.deadLettered += result.deadLettered;
    this.unsavedDeadLettered += result.deadLettered;
    if (result.position) {
      this.position = result.position;
      this.positionChanged = true;
    }
    this.deps.onCommit?.(this);
  }

  private isOpen(): boolean {
    return this.takesPages;
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  /** FIFO slots: a released slot is handed straight to the next waiter, so batches start in page order. */
  private async slot<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency || this.waiting.length > 0)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
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
