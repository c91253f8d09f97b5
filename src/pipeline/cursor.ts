/**
 * One output's position for one account: the checkpoint and the hashes of events delivered
 * at or after `checkpoint − overlap`, so a re-read of the overlap ships only what is new.
 * Filebeat-style: a batch's cursor update is applied only after the output confirmed it.
 *
 * Hashing is lazy: an event's hash is computed only when something at its exact time may be a
 * duplicate, or when it must be remembered (inside the overlap). A backfill (overlap 0) hashes
 * little more than the last timestamp of each page.
 */
import type { AccessEvent } from '../format/event.js';
import { shiftCanonical } from '../format/time.js';
import { eventHash } from '../source/event-identity.js';
import type { OutputCursorState } from '../state/schema.js';

export interface Row {
  event: AccessEvent;
  /** Canonical created_at. */
  time: string;
  /** created_at in epoch milliseconds (parsed once, with `time`). */
  epochMs: number;
  /** The content hash, once computed (see `rowHash`). */
  hash?: string;
}

export function rowHash(row: Row): string {
  return (row.hash ??= eventHash(row.event));
}

export class OutputCursor {
  private readonly seen = new Map<string, Set<string>>();

  constructor(
    public checkpoint: string,
    private readonly overlapMs: number,
    state?: OutputCursorState,
  ) {
    if (state) {
      for (const [time, hashes] of Object.entries(state.dedup)) this.seen.set(time, new Set(hashes));
    }
  }

  /** The earliest created_at this output still needs to look at. */
  get floor(): string {
    return shiftCanonical(this.checkpoint, -this.overlapMs);
  }

  has(row: Row): boolean {
    const set = this.seen.get(row.time);
    return set !== undefined && set.has(rowHash(row));
  }

  get dedupSize(): number {
    let n = 0;
    for (const set of this.seen.values()) n += set.size;
    return n;
  }

  /**
   * Records a delivered batch: remembers its hashes and moves the checkpoint to `through`
   * (never backwards), then forgets hashes older than the new checkpoint − overlap.
   */
  advance(delivered: readonly Row[], through: string): void {
    if (through > this.checkpoint) this.checkpoint = through;
    // Only what stays inside the overlap is remembered (and so hashed).
    const keepFrom = this.floor;
    for (const row of delivered) {
      if (row.time < keepFrom) continue;
      let set = this.seen.get(row.time);
      if (!set) {
        set = new Set();
        this.seen.set(row.time, set);
      }
      const hash = rowHash(row);
      set.add(hash);
    }
    // Times arrive mostly in order, so the oldest entries come first: stop at the first kept one.
    const floor = this.floor;
    for (const time of this.seen.keys()) {
      if (time >= floor) break;
      this.seen.delete(time);
    }
  }

  dedupState(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [time, set] of [...this.seen].sort(([a], [b]) => (a < b ? -1 : 1))) out[time] = [...set];
    return out;
  }
}
