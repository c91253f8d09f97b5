/**
 * Keyset paging of one read window of the Access logs API, correct whatever its undocumented paging
 * rules turn out to be (see README, "How events are read and delivered").
 *
 * Every request starts just before a `created_at` already read in this window, so rows that
 * disappear or appear before it cannot shift what comes next. `since` takes milliseconds and may
 * or may not include rows at exactly that instant (undocumented), so it is sent one millisecond
 * before the one wanted and a page offset counts only rows strictly after it: right under both
 * readings. An offset is added only when the rows already read from that point fill whole pages:
 * after a full page it is page 2 from just before the first row's millisecond (no row is read
 * twice), and inside a run of rows that share one millisecond it steps through the run. The window
 * ends only when a request brings no row that was not already taken, never because a page was short.
 *
 * What the server turned out to do is learned as it answers (`ServerTraits`, shared by every window
 * of a client): a page shorter than asked lowers the page size sent (the server caps it); a 400
 * 12091 for a size outside the accepted list restricts the sizes to that list; a page offset that
 * brings rows read already means the server ignores `page` (the pre-2025 API), after which a run of
 * one millisecond longer than a page cannot be read past its first page: it is reported, skipped,
 * and the rest of the window still ships.
 */
import { ACCEPTED_PAGE_SIZES } from '../config/page-sizes.js';
import type { AccessEvent } from '../datasets/access-requests/event.js';
import { shiftCanonical } from '../format/time.js';
import { eventHash } from '../format/identity.js';

const ACCEPTED = new Set<number>(ACCEPTED_PAGE_SIZES);

/** A row of a response, with its canonical `created_at`. */
export interface PagedRow {
  event: AccessEvent;
  /** Canonical created_at (nine fractional digits). */
  time: string;
  hash?: string;
}

function hashOf(row: PagedRow): string {
  return (row.hash ??= eventHash(row.event));
}

/** The millisecond a canonical time falls in: what `since` can express. */
export function millisecondOf(canonical: string): string {
  return `${canonical.slice(0, 23)}000000Z`;
}

export interface PageQuery {
  /** Canonical, whole millisecond: rows after it are wanted (and maybe rows at it). */
  since: string;
  page: number;
  perPage: number;
  limit: number;
}

/** What the server has shown about itself; shared by every window a client reads. */
export interface ServerTraits {
  /** Sizes outside ACCEPTED_PAGE_SIZES were refused (400 12091). */
  acceptedSizesOnly: boolean;
  /** A page offset brought rows from the start of the key again: the server ignores `page`. */
  ignoresPage: boolean;
  /** Whether `since` includes rows at exactly that instant, once an answer showed it. */
  sinceInclusive: boolean | undefined;
}

export function newServerTraits(): ServerTraits {
  return { acceptedSizesOnly: false, ignoresPage: false, sinceInclusive: undefined };
}

/** A run of one millisecond that the server could not page through (it ignores `page`). */
export interface UnreadableRun {
  millisecond: string;
  read: number;
}

/** Rows taken in this window from `since` on, by time; hashed only when a time repeats. */
class TakenRows<R extends PagedRow> {
  private readonly byTime = new Map<string, R | R[]>();

  /** Adds the row unless the same event was taken already. */
  addIfNew(row: R): boolean {
    const slot = this.byTime.get(row.time);
    if (slot === undefined) {
      this.byTime.set(row.time, row);
      return true;
    }
    const hash = hashOf(row);
    const list = Array.isArray(slot) ? slot : [slot];
    if (list.some((other) => hashOf(other) === hash)) return false;
    list.push(row);
    if (list !== slot) this.byTime.set(row.time, list);
    return true;
  }

  /** Rows taken strictly after `time`: the server's positions after a `since` of `time`. */
  countAfter(time: string): number {
    let n = 0;
    for (const [at, slot] of this.byTime) if (at > time) n += Array.isArray(slot) ? slot.length : 1;
    return n;
  }

  /** Rows taken at exactly `time`. */
  countAt(time: string): number {
    const slot = this.byTime.get(time);
    return slot === undefined ? 0 : Array.isArray(slot) ? slot.length : 1;
  }

  /** The earliest time taken after `time`, or undefined. */
  earliestAfter(time: string): string | undefined {
    let earliest: string | undefined;
    for (const at of this.byTime.keys()) if (at > time && (earliest === undefined || at < earliest)) earliest = at;
    return earliest;
  }

  /** Forgets rows before `time`. Rows at it stay: a server that includes them returns them again. */
  prune(time: string): void {
    for (const at of this.byTime.keys()) if (at < time) this.byTime.delete(at);
  }
}

export interface PagerOptions {
  /** Canonical start of the window (inclusive). */
  since: string;
  pageSize: number;
  traits: ServerTraits;
}

export interface PageOutcome<R extends PagedRow> {
  /** Rows of the response not taken before in this window, in the response's order. */
  fresh: R[];
  /** Set when the server's answers showed it ignores page offsets (log it once). */
  learnedIgnoresPage: boolean;
  /** A run skipped because the server cannot page through it. */
  unreadable?: UnreadableRun;
}

export class AccessPager<R extends PagedRow = PagedRow> {
  private since: string;
  /** Rows read after `since`, in the server's order (0 while the server ignores `page`). */
  private known = 0;
  private size: number;
  private readonly taken = new TakenRows<R>();
  private finished = false;
  /** The newest created_at taken. */
  private newest = '';
  /** Rows in the last response when it held fewer than asked. */
  private lastShort: number | undefined;
  /** Rows per response the server has been seen to stop at although it had more. */
  private provenCap = Number.POSITIVE_INFINITY;

  /** While the server ignores `page`: the millisecond being read. */
  private keyMs: string;
  /** A millisecond whose rows at exactly its start an answer ended among (see accept). */
  private cutAt: string | undefined;

  constructor(private readonly options: PagerOptions) {
    this.keyMs = millisecondOf(options.since);
    this.since = this.sinceFor(this.keyMs);
    this.size = this.usableSize(options.pageSize);
  }

  get done(): boolean {
    return this.finished;
  }

  /** The next request (meaningful while !done). */
  next(): PageQuery {
    const page = Math.floor(this.known / this.size) + 1;
    const total = page * this.size;
    // `limit` may cap the whole result across pages: ask for everything up to this page, unless the
    // server only takes the listed sizes (then it has also shown it reads per_page as the page size).
    const limit = page === 1 || (this.options.traits.acceptedSizesOnly && !ACCEPTED.has(total)) ? this.size : total;
    return { since: this.since, page, perPage: this.size, limit };
  }

  /**
   * The server refused a size (400 12091). True when the pager can retry with accepted sizes;
   * false when the request used them already (then the configured page size is the problem).
   */
  refusedSize(query: PageQuery): boolean {
    if (ACCEPTED.has(query.perPage) && ACCEPTED.has(query.limit)) return false;
    this.options.traits.acceptedSizesOnly = true;
    this.size = this.usableSize(this.size);
    return true;
  }

  /**
   * Takes one response: `rows` are the rows inside the window in the server's order; `returned` is
   * how many rows the response held in all (out-of-window rows included), to tell a capped page.
   */
  accept(query: PageQuery, rows: readonly R[], returned: number): PageOutcome<R> {
    const traits = this.options.traits;
    const outcome: PageOutcome<R> = { fresh: [], learnedIgnoresPage: false };
    const knownBefore = this.known;
    const earliestBefore = this.taken.earliestAfter(query.since);
    const atSinceBefore = this.taken.countAt(query.since);
    let after = 0; // rows strictly after `since`: the positions this response covered
    let atSince = 0;
    let reread = 0;
    let first: R | undefined;
    let firstWasTaken = false;
    let last: R | undefined;
    for (const row of rows) {
      if (row.time < query.since) continue; // before the key: out of window, or late (a later poll's overlap)
      last = row;
      const fresh = this.taken.addIfNew(row);
      if (fresh) {
        outcome.fresh.push(row);
        if (row.time > this.newest) this.newest = row.time;
      }
      if (row.time === query.since) {
        atSince++;
        continue;
      }
      after++;
      if (first === undefined) {
        first = row;
        firstWasTaken = !fresh;
      }
      if (!fresh) reread++;
    }
    // How the server reads `since`: rows at exactly it came back (inclusive), or rows taken at it
    // did not come back on a page 1 that brought later ones (exclusive).
    if (atSince > 0) traits.sinceInclusive = true;
    else if (traits.sinceInclusive === undefined && query.page === 1 && atSinceBefore > 0)
      traits.sinceInclusive = false;
    if (this.cutAt !== undefined && query.since === this.cutAt) {
      if (traits.sinceInclusive === false) outcome.unreadable = { millisecond: this.cutAt, read: atSinceBefore };
      this.cutAt = undefined;
    }
    // A page offset that brought back the first row taken after `since` was not applied.
    const offset = (query.page - 1) * query.perPage;
    if (
      offset > 0 &&
      !traits.ignoresPage &&
      firstWasTaken &&
      first !== undefined &&
      earliestBefore !== undefined &&
      first.time <= earliestBefore &&
      reread > Math.max(0, knownBefore - offset)
    ) {
      traits.ignoresPage = true;
      outcome.learnedIgnoresPage = true;
    }
    // A short response followed by more rows shows the server's cap.
    if (this.lastShort !== undefined && outcome.fresh.length > 0 && this.lastShort > 0)
      this.provenCap = Math.min(this.provenCap, this.lastShort);
    this.lastShort = returned < query.limit ? returned : undefined;
    // A page shorter than asked may be the server's cap: offsets stay exact only with a size it
    // serves in full. (Without offsets, the size asked can stay.)
    if (outcome.learnedIgnoresPage) this.size = this.usableSize(this.options.pageSize);
    else if (!traits.ignoresPage && returned > 0 && returned < query.perPage)
      this.size = this.usableSize(Math.min(this.size, returned));

    if (traits.ignoresPage) {
      // Plain keyset: page 1 from the newest millisecond taken.
      if (outcome.fresh.length === 0 && !outcome.learnedIgnoresPage) {
        // An answer with room left, or one that reached past the key's millisecond, held all there is.
        const full = returned >= Math.min(query.limit, this.provenCap);
        if (!full || last === undefined || millisecondOf(last.time) !== this.keyMs) {
          this.finished = true;
          return outcome;
        }
        if (
          query.since < this.keyMs &&
          (atSince > 0 || (first !== undefined && millisecondOf(first.time) < this.keyMs))
        ) {
          // Rows before the key's millisecond took room in the answer: ask again from the
          // millisecond itself. Rows at exactly its start came before the ones seen, so they are
          // taken, unless the answer ended among them: then a server that leaves `since` out cannot
          // give the rest (reported once the server has shown that it does).
          if (last.time === this.keyMs && traits.sinceInclusive !== true) this.cutAt = this.keyMs;
          this.moveTo(this.keyMs, 0);
          return outcome;
        }
        // A full answer of nothing but the key's millisecond: the rest of it is out of reach.
        // Reading goes on from the next millisecond (a server that leaves `since` out would then
        // also skip rows at exactly that instant: this path is lossy already, and says so).
        outcome.unreadable = { millisecond: this.keyMs, read: after + atSince };
        this.keyMs = shiftCanonical(this.keyMs, 1);
        this.moveTo(this.keyMs, 0);
        return outcome;
      }
      if (this.newest !== '' && millisecondOf(this.newest) > this.keyMs) this.keyMs = millisecondOf(this.newest);
      this.moveTo(maxTime(query.since, this.sinceFor(this.keyMs)), 0);
      return outcome;
    }

    if (outcome.fresh.length === 0) {
      // A full page of rows read already (positions counted short: rows at exactly `since` that
      // this server counts) proves nothing: read the next page. Anything less ends the window.
      if (after >= query.perPage) {
        this.moveTo(query.since, offset + query.perPage);
        return outcome;
      }
      this.finished = true;
      return outcome;
    }
    // Candidate keys, never before this one (rows before it are forgotten): this key, just before
    // the first row's millisecond, and just before the newest millisecond taken. Each knows the rows
    // taken after it; the one whose known rows leave the smallest remainder of a page re-reads the
    // fewest, and on a tie the latest wins. A key with rows at exactly its instant counts them only
    // once the server has shown whether it includes them; until then such a key is not taken.
    let best = { since: query.since, known: Math.max(offset + after, this.positionsAfter(query.since) ?? 0) };
    for (const candidate of [first?.time, this.newest === '' ? undefined : this.newest]) {
      if (candidate === undefined) continue;
      const since = maxTime(query.since, this.sinceFor(millisecondOf(candidate)));
      const known = this.positionsAfter(since);
      if (known === undefined) continue;
      const remainder = known % this.size;
      const bestRemainder = best.known % this.size;
      if (remainder < bestRemainder || (remainder === bestRemainder && since > best.since)) best = { since, known };
    }
    this.moveTo(best.since, best.known);
    return outcome;
  }

  /**
   * The `since` that gets every row of millisecond `ms`: the millisecond itself where the server
   * has shown it includes `since`, else the one before (right under both readings).
   */
  private sinceFor(ms: string): string {
    return this.options.traits.sinceInclusive === true ? ms : shiftCanonical(ms, -1);
  }

  /** The server's positions taken from a `since`, or undefined while rows at it make them ambiguous. */
  private positionsAfter(since: string): number | undefined {
    const at = this.taken.countAt(since);
    const inclusive = this.options.traits.sinceInclusive;
    if (at > 0 && inclusive === undefined) return undefined;
    return this.taken.countAfter(since) + (inclusive === true ? at : 0);
  }

  private moveTo(since: string, known: number): void {
    this.since = since;
    this.known = known;
    this.taken.prune(since);
  }

  /** The largest size not above `n` that the server takes. */
  private usableSize(n: number): number {
    if (!this.options.traits.acceptedSizesOnly) return Math.max(1, n);
    let best = 1;
    for (const size of ACCEPTED_PAGE_SIZES) if (size <= n) best = size;
    return best;
  }
}

function maxTime(a: string, b: string): string {
  return a > b ? a : b;
}
