import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ACCEPTED_PAGE_SIZES } from '../../src/config/page-sizes.js';
import {
  AccessPager,
  millisecondOf,
  newServerTraits,
  type PagedRow,
  type ServerTraits,
} from '../../src/source/access-pager.js';
import { canonicalFromMs } from '../../src/format/time.js';
import { describeBehaviour, type PagingBehaviour, pageSlice } from '../support/access-paging-model.js';

/** Whether the server's `since` includes rows at exactly that instant (undocumented: both are plausible). */
type Bound = 'inclusive' | 'exclusive';
const boundArb = fc.constantFrom<Bound>('inclusive', 'exclusive');

interface Served {
  fresh: PagedRow[];
  requests: number;
  unreadable: { millisecond: string; read: number }[];
}

/** Rows at `times` (canonical, sorted), each a distinct event. */
function rowsAt(times: readonly string[]): PagedRow[] {
  return times.map((time, i) => ({ time, event: { created_at: time, user_email: `u${i}@example.com` } }));
}

/** Reads the whole window with the pager from a server that pages by `behaviour`. */
function readAll(
  rows: readonly PagedRow[],
  pageSize: number,
  behaviour: PagingBehaviour,
  traits: ServerTraits = newServerTraits(),
  bound: Bound = 'inclusive',
): Served {
  const since = rows.length > 0 ? rows[0]!.time : canonicalFromMs(0);
  const pager = new AccessPager({ since, pageSize, traits });
  const served: Served = { fresh: [], requests: 0, unreadable: [] };
  while (!pager.done) {
    assert.ok(served.requests < 100_000, 'the pager ends');
    const query = pager.next();
    served.requests++;
    const inWindow = rows
      .filter((r) => (bound === 'inclusive' ? r.time >= query.since : r.time > query.since))
      .map((r) => ({ ...r, hash: undefined }));
    const slice = pageSlice(
      inWindow.length,
      { page: query.page, perPage: query.perPage, limit: query.limit },
      behaviour,
    );
    if ('refused' in slice) {
      assert.ok(pager.refusedSize(query), `a refused size is retried with accepted ones (${JSON.stringify(query)})`);
      continue;
    }
    const page = inWindow.slice(slice.from, slice.to);
    const outcome = pager.accept(query, page, page.length);
    served.fresh.push(...outcome.fresh);
    if (outcome.unreadable) served.unreadable.push(outcome.unreadable);
  }
  return served;
}

/** Times: `count` rows spread over distinct and shared milliseconds, with some long runs. */
const timesArb = fc
  .array(
    fc.record({
      gapMs: fc.integer({ min: 0, max: 3 }),
      subUs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999 })),
      run: fc.oneof(fc.constant(1), fc.constant(1), fc.integer({ min: 1, max: 40 })),
    }),
    { maxLength: 120 },
  )
  .map((steps) => {
    const times: string[] = [];
    let ms = Date.parse('2024-05-01T00:00:00Z');
    for (const step of steps) {
      ms += step.gapMs;
      const base = canonicalFromMs(ms);
      const time = `${base.slice(0, 23)}${String(step.subUs).padStart(3, '0')}000Z`;
      for (let i = 0; i < step.run; i++) times.push(time);
    }
    return times.sort();
  });

const pageSizeArb = fc.constantFrom(...ACCEPTED_PAGE_SIZES.filter((n) => n <= 100));
const pagedBehaviourArb: fc.Arbitrary<PagingBehaviour> = fc.oneof(
  fc.constant({ mode: 'honours' } as const),
  fc.record({
    mode: fc.constant('capped' as const),
    cap: fc.integer({ min: 1, max: 120 }),
    offsetBy: fc.constantFrom('asked' as const, 'served' as const),
  }),
  fc.constant({ mode: 'limit-total' } as const),
  fc.constant({ mode: 'accepted-sizes' } as const),
);

function assertOnce(rows: readonly PagedRow[], served: Served, lost: ReadonlySet<number> = new Set()): void {
  const seen = new Map<string, number>();
  for (const row of served.fresh)
    seen.set(String(row.event.user_email), (seen.get(String(row.event.user_email)) ?? 0) + 1);
  rows.forEach((row, i) => {
    const n = seen.get(String(row.event.user_email)) ?? 0;
    if (lost.has(i)) assert.ok(n <= 1, `row ${i} at most once`);
    else assert.equal(n, 1, `row ${i} (${row.time}) shipped once, not ${n} times`);
  });
}

describe('source/access-pager: keyset paging under every reading of page, per_page and limit', () => {
  it('takes every row once under honours, capped, limit-total and accepted-sizes, within ⌈N / rows per response⌉ + 1 requests where the data allows (property)', () => {
    fc.assert(
      fc.property(timesArb, pageSizeArb, pagedBehaviourArb, boundArb, (times, pageSize, behaviour, bound) => {
        const rows = rowsAt(times);
        const served = readAll(rows, pageSize, behaviour, newServerTraits(), bound);
        assertOnce(rows, served);
        assert.deepEqual(served.unreadable, []);
      }),
      { numRuns: 400 },
    );
  });

  it('costs ⌈N / rows per response⌉ + 1 requests on distinct times, + 1 where sizes must be learned', () => {
    const times = Array.from({ length: 2345 }, (_, i) => canonicalFromMs(Date.parse('2024-05-01T00:00:00Z') + i * 7));
    const rows = rowsAt(times);
    const cases: { behaviour: PagingBehaviour; pageSize: number; perResponse: number; learning: number }[] = [
      { behaviour: { mode: 'honours' }, pageSize: 100, perResponse: 100, learning: 0 },
      { behaviour: { mode: 'honours' }, pageSize: 1000, perResponse: 1000, learning: 0 },
      { behaviour: { mode: 'capped', cap: 37, offsetBy: 'asked' }, pageSize: 100, perResponse: 37, learning: 0 },
      { behaviour: { mode: 'capped', cap: 300, offsetBy: 'served' }, pageSize: 1000, perResponse: 300, learning: 0 },
      { behaviour: { mode: 'limit-total' }, pageSize: 100, perResponse: 100, learning: 0 },
      // The first page-2 request asks limit=200, refused once; from then on limit = per_page.
      { behaviour: { mode: 'accepted-sizes' }, pageSize: 100, perResponse: 100, learning: 1 },
    ];
    for (const c of cases) {
      for (const bound of ['inclusive', 'exclusive'] as const) {
        const served = readAll(rows, c.pageSize, c.behaviour, newServerTraits(), bound);
        assertOnce(rows, served);
        const limit = Math.ceil(rows.length / c.perResponse) + 1 + c.learning;
        console.log(
          `      ${describeBehaviour(c.behaviour)}, since ${bound}, page_size ${c.pageSize}: served ${rows.length}, shipped ${served.fresh.length}, ${served.requests} requests (bound ${limit})`,
        );
        assert.ok(served.requests <= limit, `${served.requests} requests > ${limit}`);
      }
    }
  });

  it('steps through a run of one millisecond longer than a response, under honours, capped and limit-total', () => {
    const at = '2024-05-01T00:00:00.123450000Z';
    const before = Array.from({ length: 30 }, (_, i) => canonicalFromMs(Date.parse('2024-04-30T23:59:00Z') + i));
    const times = [...before, ...Array.from({ length: 2500 }, () => at), '2024-05-01T00:00:01.000000000Z'];
    const rows = rowsAt(times);
    for (const behaviour of [
      { mode: 'honours' },
      { mode: 'capped', cap: 300, offsetBy: 'asked' },
      { mode: 'capped', cap: 300, offsetBy: 'served' },
      { mode: 'limit-total' },
      { mode: 'accepted-sizes' },
    ] as PagingBehaviour[]) {
      assertOnce(rows, readAll(rows, 1000, behaviour, newServerTraits(), 'exclusive'));
      const served = readAll(rows, 1000, behaviour);
      assertOnce(rows, served);
      console.log(
        `      ${describeBehaviour(behaviour)}: 2,531 rows, 2,500 in one millisecond: ${served.fresh.length} shipped in ${served.requests} requests`,
      );
      assert.ok(
        served.requests <= Math.ceil(rows.length / Math.min(1000, 'cap' in behaviour ? behaviour.cap : 1000)) + 2,
      );
    }
  });

  it('under limit-only (page ignored): learns it, reads every row it can reach, and reports a run it cannot page', () => {
    const at = '2024-05-01T00:00:00.500000000Z';
    const times = [
      ...Array.from({ length: 1500 }, (_, i) => canonicalFromMs(Date.parse('2024-05-01T00:00:00Z') - 2000 + i)),
      ...Array.from({ length: 250 }, () => at),
      ...Array.from({ length: 600 }, (_, i) => canonicalFromMs(Date.parse('2024-05-01T00:00:01Z') + i)),
    ].sort();
    const rows = rowsAt(times);
    const traits = newServerTraits();
    const served = readAll(rows, 100, { mode: 'limit-only' }, traits);
    assert.equal(traits.ignoresPage, true);
    assert.equal(served.unreadable.length, 1);
    assert.equal(served.unreadable[0]!.millisecond, millisecondOf(at));
    const lost = new Set(rows.map((r, i) => (r.time === at ? i : -1)).filter((i) => i >= 0));
    assertOnce(rows, served, lost);
    assert.equal(served.fresh.filter((r) => r.time === at).length, 100, 'the first page of the run is shipped');
    console.log(
      `      limit only: ${rows.length} rows, a 250-row millisecond: ${served.fresh.length} shipped, ${served.requests} requests, unreadable ${JSON.stringify(served.unreadable)}`,
    );
  });

  it('takes every row once under limit-only when no two adjacent milliseconds hold a page together (property)', () => {
    fc.assert(
      fc.property(timesArb, boundArb, (times, bound) => {
        const rows = rowsAt(times);
        // What one answer must hold there: a millisecond, with the one before it (a \`since\` of
        // that one is what gets every row of it under either reading).
        const perMs = new Map<string, number>();
        for (const t of times) perMs.set(millisecondOf(t), (perMs.get(millisecondOf(t)) ?? 0) + 1);
        const span = Math.max(
          0,
          ...[...perMs].map(([ms, n]) => n + (perMs.get(canonicalFromMs(Date.parse(ms) - 1)) ?? 0)),
        );
        const served = readAll(rows, 50, { mode: 'limit-only', maxLimit: 50 }, newServerTraits(), bound);
        if (span < 50) {
          assertOnce(rows, served);
          assert.deepEqual(served.unreadable, []);
        } else assertOnce(rows, served, new Set(rows.map((r, i) => i)));
      }),
      { numRuns: 300 },
    );
  });

  it('a page size the server refuses as configured is not retried', () => {
    const traits = newServerTraits();
    const pager = new AccessPager({ since: '2024-05-01T00:00:00.000000000Z', pageSize: 100, traits });
    assert.equal(pager.refusedSize(pager.next()), false);
  });
});
