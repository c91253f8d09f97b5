/**
 * One output's position for one account: the checkpoint and the hashes of events delivered
 * at or after `checkpoint − overlap`, so a re-read of the overlap ships only what is new.
 * Filebeat-style: a batch's cursor update is applied only after the output confirmed it.
 */
import { shiftCanonical } from '../format/time.js';
import type { OutputCursorState } from '../state/schema.js';

export interface TimedEvent {
  /** Canonical created_at. */
  time: string;
  hash: string;
}

export class OutputCursor {
  private readonly seen = new Map<string, Set<string>>();
  private size = 0;

  constructor(
    public checkpoint: string,
    private readonly overlapMs: number,
    state?: OutputCursorState,
  ) {
    if (state) {
      for (const [time, hashes] of Object.entries(state.dedup)) this.seen.set(time, new Set(hashes));
      this.size = Object.values(state.dedup).reduce((n, h) => n + h.length, 0);
    }
  }

  /** The earliest created_at this output still needs to look at. */
  get floor(): string {
    return shiftCanonical(this.checkpoint, -this.overlapMs);
  }

  has(event: TimedEvent): boolean {
    return this.seen.get(event.time)?.has(event.hash) ?? false;
  }

  get dedupSize(): number {
    return this.size;
  }

  /**
   * Records a delivered batch: remembers its hashes and moves the checkpoint to `through`
   * (never backwards), then forgets hashes older than the new checkpoint − overlap.
   */
  advance(delivered: readonly TimedEvent[], through: string): void {
    for (const event of delivered) {
      let set = this.seen.get(event.time);
      if (!set) {
        set = new Set();
        this.seen.set(event.time, set);
      }
      if (!set.has(event.hash)) {
        set.add(event.hash);
        this.size++;
      }
    }
    if (through > this.checkpoint) this.checkpoint = through;
    // Times arrive mostly in order, so the oldest entries come first: stop at the first kept one.
    const floor = this.floor;
    for (const [time, set] of this.seen) {
      if (time >= floor) break;
      this.seen.delete(time);
      this.size -= set.size;
    }
  }

  dedupState(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [time, set] of [...this.seen].sort(([a], [b]) => (a < b ? -1 : 1))) out[time] = [...set];
    return out;
  }
}
