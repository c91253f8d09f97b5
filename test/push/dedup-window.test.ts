import assert from 'node:assert/strict';
import fc from 'fast-check';
import { eventHash } from '../../src/format/identity.js';
import { DedupWindow, idBits } from '../../src/push/dedup-window.js';

/** What the window must answer: the last `capacity` distinct ids added, in the order first added. */
class ReferenceWindow {
  private readonly ids: string[] = [];
  constructor(private readonly capacity: number) {}
  has(id: string): boolean {
    return this.ids.includes(id);
  }
  add(id: string): void {
    if (this.capacity === 0 || this.has(id)) return;
    this.ids.push(id);
    if (this.ids.length > this.capacity) this.ids.shift();
  }
  get size(): number {
    return this.ids.length;
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('push/dedup-window', () => {
  it('answers like the last-N model for any sequence of adds and lookups (property)', () => {
    // A small pool of ids and a small table: many probes collide, so evictions move entries back.
    const id = fc.oneof(
      fc.integer({ min: 0, max: 60 }).map((n) => `${ALPHABET[n % 64]}${'A'.repeat(14)}${ALPHABET[(n * 7) % 64]}`),
      fc.integer({ min: 0, max: 60 }).map((n) => `not base64url ${n}`),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.array(fc.tuple(fc.boolean(), id), { maxLength: 400 }),
        (capacity, steps) => {
          const window = new DedupWindow(capacity);
          const model = new ReferenceWindow(capacity);
          for (const [isAdd, value] of steps) {
            if (isAdd) {
              window.add(value);
              model.add(value);
            } else assert.equal(window.has(value), model.has(value), `has(${value})`);
            assert.equal(window.size, model.size);
          }
          for (let n = 0; n <= 60; n++) {
            const probe = `${ALPHABET[n % 64]}${'A'.repeat(14)}${ALPHABET[(n * 7) % 64]}`;
            assert.equal(window.has(probe), model.has(probe), `final has(${probe})`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('holds exactly the last capacity ids of a long stream, across growth and wrap-around', () => {
    const capacity = 5000;
    const window = new DedupWindow(capacity);
    const ids = Array.from({ length: 23_456 }, (_, i) => eventHash({ n: i }));
    for (const id of ids) window.add(id);
    assert.equal(window.size, capacity);
    const held = ids.filter((id) => window.has(id)).length;
    assert.equal(held, capacity);
    for (const id of ids.slice(-capacity)) assert.ok(window.has(id));
    for (const id of ids.slice(0, -capacity)) assert.ok(!window.has(id));
  });

  it('keeps all 96 bits of an id: ids that differ in any one character are different', () => {
    const base = eventHash({ a: 1 });
    const window = new DedupWindow(100);
    window.add(base);
    for (let i = 0; i < 16; i++) {
      const flipped = base.slice(0, i) + (base[i] === 'A' ? 'B' : 'A') + base.slice(i + 1);
      assert.equal(window.has(flipped), false, `character ${i}`);
    }
    const words = new Uint32Array(3);
    const seen = new Set<string>();
    for (let i = 0; i < 16; i++) {
      for (const c of ['A', 'B', '_']) {
        idBits(base.slice(0, i) + c + base.slice(i + 1), words);
        seen.add(words.join(','));
      }
    }
    // 16 positions × 3 characters, minus the repeats where c is the id's own character.
    const distinct = new Set<string>();
    for (let i = 0; i < 16; i++)
      for (const c of ['A', 'B', '_']) distinct.add(base.slice(0, i) + c + base.slice(i + 1));
    assert.equal(seen.size, distinct.size);
  });

  it('a capacity of 0 holds nothing', () => {
    const window = new DedupWindow(0);
    window.add('AAAAAAAAAAAAAAAA');
    assert.equal(window.has('AAAAAAAAAAAAAAAA'), false);
    assert.equal(window.size, 0);
  });
});
