/**
 * Keyset paging of one read window of the Access logs API, correct whatever its undocumented paging
 * rules turn out to be (see README, "How events are read and delivered").
 *
 * Every request starts at a `created_at` already read in this window (`since`, inclusive, at the
 * millisecond precision the query takes), so rows that disappear or appear before it cannot shift
 * what comes next. A page offset is added only when the rows already read from that key fill whole
 * pages: after a full page it is page 2 from the first row's millisecond (no row is read twice), and
 * inside a run of rows that share one millisecond it steps through the run. The window ends only
 * when a request brings no row that was not already taken, never because a page was short.
 *
 * What the server turned out to do is learned as it answers (`ServerTraits`, shared by every window
 * of a client): a page shorter than asked lowers the page size sent (the server caps it); a 400
 * 12091 for a size outside the accepted list restricts the sizes to that list; a page offset that
 * brings rows read already means the server ignores `page` (the pre-2025 API), after which a run of
 * one millisecond longer than a page cannot be read past its first page: it is reported, skipped,
 * and the rest of the window still ships.
 */
import { shiftCanonical } from '../format/time.js';
import { eventHash } from './event-identity.js';
import type { AccessEvent } from '../format/event.js';

import { ACCEPTED_PAGE_SIZES } from '../config/page-sizes.js';

export { ACCEPTED_PAGE_SIZES };
const ACCEPTED = new Set<number>(ACCEPTED_PAGE_SIZES);

export function isAcceptedPageSize(n: number): boolean {
  return ACCEPTED.has(n);
}

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
  /** Canonical, whole millisecond. */
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
}

export function newServerTraits(): ServerTraits {
  return { acceptedSizesOnly: false, ignoresPage: false };
}

/** A run of one millisecond that the server could not page through (it ignores `page`). */
export interface UnreadableRun {
  millisecond: string;
  read: number;
}

/** Rows taken in this window at or after the key, by time; hashed only when a time repeats. */
class TakenRows {
  private readonly byTime = new Map<string, PagedRow | PagedRow[]>();
  /** Rows taken per millisecond. */
  readonly perMillisecond = new Map<string, number>();

  /** Adds the row unless the same event was taken already. */
  addIfNew(row: PagedRow): boolean {
    const slot = this.byTime.get(row.time);
    if (slot === undefined) this.byTime.set(row.time, row);
    else {
      const hash = hashOf(row);
      const list = Array.isArray(slot) ? slot : [slot];
      if (list.some((other) => hashOf(other) === hash)) return false;
      list.push(row);
      if (list !== slot) this.byTime.set(row.time, list);
    }
    const ms = millisecondOf(row.time);
    this.perMillisecond.set(ms, (this.perMillisecond.get(ms) ?? 0) + 1);
    return true;
  }

  /** Forgets rows before `key`: no request from now on returns them as part of its page. */
  prune(key: string): void {
    for (const time of this.byTime.keys()) if (time < key) this.byTime.delete(time);
    for (const ms of this.perMillisecond.keys()) if (ms < key) this.perMillisecond.delete(ms);
  }
}

export interface PagerOptions {
  /** Canonical start of the window (inclusive). */
  since: string;
  /** Canonical end of the window (exclusive). */
  until: string;
  pageSize: number;
  traits: ServerTraits;
}

export interface PageOutcome {
  /** Rows of the response not taken before in this window, in the response's order. */
  fresh: PagedRow[];
  /** Set when the server's answers showed it ignores page offsets (log it once). */
  learnedIgnoresPage: boolean;
  /** A run skipped because the server cannot page through it. */
  unreadable?: UnreadableRun;
}

export class AccessPager {
  private key: string;
  /** Rows read from the current key, in the server's order. */
  private known = 0;
  private size: number;
  private readonly taken = new TakenRows();
  private finished = false;
  /** The newest millisecond taken (the key of a plain keyset step). */
  private newest = '';
  /** Rows in the last response when it held fewer than asked. */
  private lastShort: number | undefined;
  /** Rows per response the server has been seen to stop at although it had more. */
  private provenCap = Number.POSITIVE_INFINITY;

  constructor(private readonly options: PagerOptions) {
    this.key = millisecondOf(options.since);
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
    return { since: this.key, page, perPage: this.size, limit };
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
  accept(query: PageQuery, rows: readonly PagedRow[], returned: number): PageOutcome {
    const traits = this.options.traits;
    const outcome: PageOutcome = { fresh: [], learnedIgnoresPage: false };
    const inKey = rows.filter((row) => row.time >= query.since);
    const first = inKey[0];
    const firstMs = first === undefined ? undefined : millisecondOf(first.time);
    const takenBefore = firstMs === undefined ? 0 : (this.taken.perMillisecond.get(firstMs) ?? 0);
    let rereadInFirst = 0;
    let reread = 0;
    for (const row of inKey) {
      if (this.taken.addIfNew(row)) {
        outcome.fresh.push(row);
        const ms = millisecondOf(row.time);
        if (ms > this.newest) this.newest = ms;
      } else {
        reread++;
        if (millisecondOf(row.time) === firstMs) rereadInFirst++;
      }
    }
    // Rows from the key this request knew already and skipped by its offset: seeing them again
    // (the start of the key, not a row or two that arrived late) means the offset was not applied.
    const offset = (query.page - 1) * query.perPage;
    const expectedReread = Math.max(0, this.known - offset);
    if (offset > 0 && !traits.ignoresPage && reread > expectedReread && reread - expectedReread >= Math.min(offset, inKey.length)) {
      traits.ignoresPage = true;
      outcome.learnedIgnoresPage = true;
    }
    // A short response followed by more rows shows the server's cap.
    if (this.lastShort !== undefined && outcome.fresh.length > 0 && this.lastShort > 0) this.provenCap = Math.min(this.provenCap, this.lastShort);
    this.lastShort = returned < query.limit ? returned : undefined;
    // A page shorter than asked may be the server's cap: offsets stay exact only with a size it
    // serves in full. (Without offsets, the size asked can stay.)
    if (outcome.learnedIgnoresPage) this.size = this.usableSize(this.options.pageSize);
    else if (!traits.ignoresPage && returned > 0 && returned < query.perPage) this.size = this.usableSize(Math.min(this.size, returned));

    if (traits.ignoresPage) {
      // Plain keyset: page 1 from the newest millisecond taken. A response that holds nothing new,
      // nothing past its key and as many rows as the server gives at most is a run of one
      // millisecond longer than a page: out of reach. Step past it and read the rest of the window.
      if (outcome.fresh.length === 0 && !outcome.learnedIgnoresPage) {
        const last = inKey[inKey.length - 1];
        if (last === undefined || millisecondOf(last.time) !== this.key) {
          this.finished = true;
          return outcome;
        }
        // Nothing new and nothing past the key: the rest of this millisecond (if any) is out of
        // reach. It is reported when the response was as full as the server makes them.
        if (returned >= Math.min(query.limit, this.provenCap)) outcome.unreadable = { millisecond: this.key, read: this.taken.perMillisecond.get(this.key) ?? 0 };
        this.moveTo(shiftCanonical(this.key, 1), 0);
        return outcome;
      }
      this.moveTo(this.newest === '' ? this.key : this.newest, 0);
      return outcome;
    }

    if (outcome.fresh.length === 0) {
      this.finished = true;
      return outcome;
    }
    // Candidate keys, each with the rows known from it in the server's order: the key of this
    // request (its offset plus this response), the first row's millisecond (rows taken before this
    // response in it, plus this response) and the newest millisecond taken. The one whose known rows
    // leave the smallest remainder of a page re-reads the fewest; on a tie, the latest key.
    const candidates: { key: string; known: number }[] = [];
    if (firstMs !== undefined) candidates.push({ key: firstMs, known: takenBefore - rereadInFirst + inKey.length });
    if (this.newest !== '') candidates.push({ key: this.newest, known: this.taken.perMillisecond.get(this.newest) ?? 0 });
    let best = { key: this.key, known: Math.max(this.known, offset + inKey.length) };
    for (const c of candidates) {
      const remainder = c.known % this.size;
      const bestRemainder = best.known % this.size;
      if (remainder < bestRemainder || (remainder === bestRemainder && c.key > best.key)) best = c;
    }
    this.moveTo(best.key, best.known);
    return outcome;
  }

  private moveTo(key: string, known: number): void {
    this.key = key;
    this.known = known;
    this.taken.prune(key);
  }

  /** The largest size not above `n` that the server takes. */
  private usableSize(n: number): number {
    if (!this.options.traits.acceptedSizesOnly) return Math.max(1, n);
    let best = 1;
    for (const size of ACCEPTED_PAGE_SIZES) if (size <= n) best = size;
    return best;
  }
}
