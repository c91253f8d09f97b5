/**
 * The event hashes an output confirmed for one endpoint, most recent `capacity` kept: a batch
 * Logpush sends again after a lost 200 is dropped. Memory: about 100 bytes per hash (a 16-char
 * string in a Map), so the default 500,000 costs ~50 MB per (endpoint, output) at its fullest.
 */
export class DedupWindow {
  private readonly seen = new Map<string, true>();

  constructor(readonly capacity: number) {}

  has(id: string): boolean {
    return this.seen.has(id);
  }

  add(id: string): void {
    if (this.capacity === 0) return;
    this.seen.delete(id);
    this.seen.set(id, true);
    // Map keeps insertion order: the first key is the oldest.
    while (this.seen.size > this.capacity) {
      const oldest = this.seen.keys().next().value;
      if (oldest === undefined) break;
      this.seen.delete(oldest);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}
