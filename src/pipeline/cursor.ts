/**
 * One output's position for one account: the checkpoint, how far the overlap has been swept for
 * late arrivals (`swept`), and the hashes of events delivered at or after `swept`, so a sweep of
 * the overlap ships only what is new. Filebeat-style: a batch's cursor update is applied only
 * after the output confirmed it.
 *
 * Everything created before `checkpoint` has been read once. Late arrivals (events the API shows
 * only after their created_at was read past) are caught by sweeps: a sweep reads
 * `[swept, checkpoint − overlap)`, the part old enough that nothing more arrives in it, and moves
 * `swept` to its end, so each event is swept once. Without an overlap there is nothing to sweep.
 *
 * Hashing is lazy: an event's hash is computed only when something at its exact time may be a
 * duplicate, or when it must be remembered. A backfill (overlap 0) hashes little more than the
 * last timestamp of each page.
 */
import type { EventRecord } from '../format/record.js';
import { shiftCanonical } from '../format/time.js';
import { eventHash } from '../format/identity.js';
import { DedupIndex } from '../state/dedup-log.js';
import type { OutputCursorState } from '../state/schema.js';

export interface Row {
  event: EventRecord;
  /** Canonical created_at. */
  time: string;
  /** created_at in epoch milliseconds (parsed once, with `time`). */
  epochMs: number;
  /** The content hash, once computed (see `rowHash`). */
  hash?: string;
  /** The outputs' record id, once computed (see `eventId`). */
  id?: string;
  /** The identity shared with pushed arrivals, once computed (output-lane.ts, push/arrivals.ts). */
  shared?: string;
}

export function rowHash(row: Row): string {
  return (row.hash ??= eventHash(row.event));
}

export class OutputCursor {
  /** Hashes by time of what was delivered at or after `swept`. */
  private readonly seen: DedupIndex;
  /** The earliest created_at a sweep still has to look at. */
  swept: string;
  /** The hashes persist in the state's journal (`index` given), not in the cursor's own state. */
  readonly journaled: boolean;

  /** `index`: the state's long-lived index for this output; without it, the hashes come from `state.dedup`. */
  constructor(
    public checkpoint: string,
    readonly overlapMs: number,
    state?: OutputCursorState,
    index?: DedupIndex,
  ) {
    const settled = shiftCanonical(checkpoint, -overlapMs);
    // A new output has nothing to sweep before its first checkpoint; a state from before sweeps
    // had its floor at checkpoint − overlap.
    this.swept = state ? (state.swept ?? settled) : checkpoint;
    this.journaled = index !== undefined;
    this.seen = index ?? new DedupIndex();
    if (!index && state) {
      for (const [time, hashes] of Object.entries(state.dedup)) for (const hash of hashes) this.seen.add(time, hash);
    }
    this.seen.forgetBefore(this.swept);
  }

  /** The earliest created_at this output still needs to look at. */
  get floor(): string {
    return this.swept;
  }

  /** Where a sweep of this output would end now: the part of the overlap nothing arrives in any more. */
  get sweepEnd(): string {
    return shiftCanonical(this.checkpoint, -this.overlapMs);
  }

  has(row: Row): boolean {
    return this.seen.hasTime(row.time) && this.seen.has(row.time, rowHash(row));
  }

  get dedupSize(): number {
    return this.seen.size;
  }

  /**
   * Records a delivered batch: remembers its hashes and moves the checkpoint to `through`
   * (never backwards). Without an overlap, `swept` follows the checkpoint.
   */
  advance(delivered: readonly Row[], through: string): void {
    if (through > this.checkpoint) this.checkpoint = through;
    if (this.overlapMs === 0) this.sweptTo(this.checkpoint);
    for (const row of delivered) if (row.time >= this.swept) this.seen.add(row.time, rowHash(row));
  }

  /**
   * A read of `[from, through)` completed: the checkpoint moves to `through`, and when nothing
   * before `from` waits for a sweep, what the read found already settled needs none either.
   */
  readThrough(from: string, through: string): void {
    this.advance([], through);
    if (this.swept >= from) this.sweptTo(through);
  }

  /** A sweep read everything before `end` (never past checkpoint − overlap): forget hashes before it. */
  sweptTo(end: string): void {
    const bound = end < this.sweepEnd ? end : this.sweepEnd;
    if (bound <= this.swept) return;
    this.swept = bound;
    this.seen.forgetBefore(bound);
  }

  /** The hashes to save inline in the state: none when the journal keeps them. */
  dedupState(): Record<string, string[]> {
    return this.journaled ? {} : Object.fromEntries(this.seen.entries());
  }
}
