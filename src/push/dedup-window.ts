/**
 * The event ids an output confirmed for one endpoint, the most recent `capacity` kept: a batch
 * Logpush sends again after a lost 200 is dropped. Kept off the JS heap, in typed arrays: each id
 * as its 96 bits (the 16 base64url characters of `eventHash`; any other string is hashed to 96
 * bits), in a ring in the order added, with an open-addressing table (linear probing, at most half
 * full) pointing into the ring. About 20 bytes per id (6 MB for the default 500,000 per endpoint
 * and output), no garbage, and nothing for the collector to trace: a Map of strings cost ~100 bytes
 * per id and, near the heap limit, most of the receiver's time in GC.
 *
 * A false "seen" would drop an event, so ids keep all 96 bits: two different events collide with
 * probability about n²/2⁹⁷ for n ids held (below 10⁻¹⁷ at 500,000).
 */
import { hash } from 'node:crypto';

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64URL.length; i++) SEXTET[BASE64URL.charCodeAt(i)] = i;

/** 24 bits from 4 base64url characters at `at`, or -1 when one is not base64url. */
function quad(id: string, at: number): number {
  let value = 0;
  for (let i = at; i < at + 4; i++) {
    const code = id.charCodeAt(i);
    const sextet = code < 128 ? (SEXTET[code] as number) : -1;
    if (sextet < 0) return -1;
    value = (value << 6) | sextet;
  }
  return value;
}

/** The id's 96 bits as three words, written to `out`. */
export function idBits(id: string, out: Uint32Array): void {
  if (id.length === 16) {
    const g0 = quad(id, 0);
    const g1 = quad(id, 4);
    const g2 = quad(id, 8);
    const g3 = quad(id, 12);
    if ((g0 | g1 | g2 | g3) >= 0) {
      out[0] = g0 | (g1 << 24);
      out[1] = (g1 >>> 8) | (g2 << 16);
      out[2] = (g2 >>> 16) | (g3 << 8);
      return;
    }
  }
  const digest = hash('sha256', id, 'buffer');
  out[0] = digest.readUInt32LE(0);
  out[1] = digest.readUInt32LE(4);
  out[2] = digest.readUInt32LE(8);
}

const EMPTY = 0;
const INITIAL_RING = 1024;

export class DedupWindow {
  /** The ids in the order added, 3 words each; slot `next` is overwritten next once full. */
  private ring = new Uint32Array(0);
  /** Per table slot: ring position + 1, or EMPTY. */
  private table = new Uint32Array(0);
  private mask = 0;
  private count = 0;
  private next = 0;
  private readonly key = new Uint32Array(3);
  private readonly leaving = new Uint32Array(3);

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.count;
  }

  has(id: string): boolean {
    if (this.count === 0) return false;
    idBits(id, this.key);
    return this.find(this.key) >= 0;
  }

  add(id: string): void {
    if (this.capacity === 0) return;
    idBits(id, this.key);
    if (this.count > 0 && this.find(this.key) >= 0) return;
    if (this.count < this.capacity) {
      if (this.count * 3 >= this.ring.length) this.grow();
      this.insert(this.count, this.key);
      this.count++;
      return;
    }
    // Full: the oldest id leaves, the new one takes its ring position.
    const position = this.next;
    this.remove(position);
    this.insert(position, this.key);
    this.next = (position + 1) % this.capacity;
  }

  /** The table slot holding `key`, or -1. */
  private find(key: Uint32Array): number {
    const ring = this.ring;
    const k0 = key[0] as number;
    const k1 = key[1] as number;
    const k2 = key[2] as number;
    for (let slot = k0 & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = this.table[slot] as number;
      if (entry === EMPTY) return -1;
      const at = (entry - 1) * 3;
      if (ring[at] === k0 && ring[at + 1] === k1 && ring[at + 2] === k2) return slot;
    }
  }

  private insert(position: number, key: Uint32Array): void {
    this.ring.set(key, position * 3);
    let slot = (key[0] as number) & this.mask;
    while (this.table[slot] !== EMPTY) slot = (slot + 1) & this.mask;
    this.table[slot] = position + 1;
  }

  /** Takes the id at ring `position` out of the table (backward-shift deletion keeps probing exact). */
  private remove(position: number): void {
    const at = position * 3;
    this.leaving[0] = this.ring[at] as number;
    this.leaving[1] = this.ring[at + 1] as number;
    this.leaving[2] = this.ring[at + 2] as number;
    let hole = this.find(this.leaving);
    if (hole < 0) return;
    this.table[hole] = EMPTY;
    for (let slot = (hole + 1) & this.mask; this.table[slot] !== EMPTY; slot = (slot + 1) & this.mask) {
      const entry = this.table[slot] as number;
      const home = (this.ring[(entry - 1) * 3] as number) & this.mask;
      // Moves back only entries whose home is not in (hole, slot], cyclically.
      const between = hole <= slot ? home > hole && home <= slot : home > hole || home <= slot;
      if (between) continue;
      this.table[hole] = entry;
      this.table[slot] = EMPTY;
      hole = slot;
    }
  }

  /** Doubles the ring (up to capacity) and rebuilds the table at twice the ring's size. */
  private grow(): void {
    const ids = Math.min(this.capacity, Math.max(INITIAL_RING, (this.ring.length / 3) * 2));
    const ring = new Uint32Array(ids * 3);
    ring.set(this.ring.subarray(0, this.count * 3));
    this.ring = ring;
    let slots = 1;
    while (slots < ids * 2) slots *= 2;
    this.table = new Uint32Array(slots);
    this.mask = slots - 1;
    for (let position = 0; position < this.count; position++) {
      const at = position * 3;
      let slot = (ring[at] as number) & this.mask;
      while (this.table[slot] !== EMPTY) slot = (slot + 1) & this.mask;
      this.table[slot] = position + 1;
    }
  }
}
