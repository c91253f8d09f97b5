/**
 * One keyset read of `[since, until)` for one account (AccessPager: every request starts at a
 * created_at already read, and the range ends only when a request brings nothing new), handing
 * each page to every lane that still takes pages. The next page is fetched while lanes deliver;
 * a lane whose queue is full holds the read back only as long as its patience lasts, then it is
 * left behind (it catches up in its own reads later) and the read goes on for the others.
 *
 * The range's end may be bounded by the API's own clock (its `Date` header): a host clock that
 * runs ahead must not step over events the API does not show yet.
 */
import type { EventRecord } from '../format/record.js';
import { apiTime, canonicalFromMs, canonicalTime, parseTimestamp } from '../format/time.js';
import type { Logger } from '../ops/logger.js';
import { AccessPager, type PageQuery } from '../source/access-pager.js';
import type { CloudflareClient, Page, RequestBudget } from '../source/cloudflare-client.js';
import { CloudflareParameterError } from '../source/cloudflare-errors.js';
import type { Clock } from '../clock.js';
import type { Row } from './cursor.js';
import type { OutputLane } from './output-lane.js';

/** Local clock ahead of the API's by more than this is worth a warning (its Date header has whole seconds). */
const SKEW_WARNING_MS = 5_000;

export interface AccountRef {
  id: string;
  label: string;
}

export interface ReadContext {
  account: AccountRef;
  /** The account id as records carry it. */
  recordAccountId: string;
  client: CloudflareClient;
  budget?: RequestBudget | undefined;
  logger: Logger;
  clock: Clock;
  pageSize: number;
  signal?: AbortSignal | undefined;
  onPage?: ((info: { account: string; fetched: number; position: string }) => void) | undefined;
  onInvalidEvent?: ((info: { account: string; reason: string; event: EventRecord }) => void) | undefined;
  /** True when the read must stop at the next page (the state cannot be saved). */
  halted?: (() => boolean) | undefined;
}

export interface ReadTally {
  pages: number;
  requests: number;
  fetched: number;
  outOfWindow: number;
  /** Runs of one millisecond the API could not page through (it ignores `page`): rows read of each. */
  unreadable: { millisecond: string; read: number }[];
  skewWarned: boolean;
}

export function newTally(): ReadTally {
  return { pages: 0, requests: 0, fetched: 0, outOfWindow: 0, unreadable: [], skewWarned: false };
}

export interface RangeRead {
  /** Every row of the range was read (not stopped by an error, a shutdown or lanes that all left). */
  complete: boolean;
  /** The range's end as read: `until`, or earlier when the API's clock is behind the host's. */
  until: string;
  error?: Error;
}

/**
 * Reads `[since, until)` into `lanes`. `settleMs` set: `until` is also bounded by the API's clock
 * (minus the settle time). Errors of the API end the read and are returned, not thrown.
 */
export async function readRange(
  since: string,
  until: string,
  lanes: readonly OutputLane[],
  ctx: ReadContext,
  tally: ReadTally,
  settleMs?: number,
): Promise<RangeRead> {
  const { account } = ctx;
  const pager = new AccessPager<Row>({ since, pageSize: ctx.pageSize, traits: ctx.client.traits });
  const request = async (query: PageQuery): Promise<{ query: PageQuery; response: Page }> => {
    for (;;) {
      try {
        const response = await ctx.client.fetchPage({
          accountId: account.id,
          accountLabel: account.label,
          since: apiTime(query.since, 'down'),
          until: apiTime(until, 'up'),
          page: query.page,
          perPage: query.perPage,
          limit: query.limit,
          signal: ctx.signal,
          budget: ctx.budget,
        });
        return { query, response };
      } catch (error) {
        if (!(error instanceof CloudflareParameterError) || !pager.refusedSize(query)) throw error;
        ctx.logger.info(
          `account ${account.label}: the API takes only page sizes 1, 5, 10, 20, 25, 50, 100 and 1000 (it refused per_page=${query.perPage}, limit=${query.limit}); using those from now on`,
          { account: account.label },
        );
        tally.requests++;
        query = pager.next();
      }
    }
  };
  const fetchNext = (): Promise<{ query: PageQuery; response: Page }> => {
    const promise = request(pager.next());
    promise.catch(() => undefined); // awaited below; a prefetch failing before then must not be "unhandled"
    return promise;
  };
  const wanted = (): boolean =>
    ctx.halted?.() !== true && (lanes.length === 0 || lanes.some((lane) => lane.takesPages));

  if (since >= until) return { complete: true, until };
  try {
    let next = fetchNext();
    for (;;) {
      const { query, response } = await next;
      tally.pages++;
      tally.requests += response.requests;
      if (settleMs !== undefined) until = boundByApiClock(until, response, settleMs, ctx, tally);
      const rows = timedRows(response.events, since, until, ctx, tally);
      const outcome = pager.accept(query, rows, response.events.length);
      if (outcome.learnedIgnoresPage) {
        ctx.logger.warn(
          `account ${account.label}: the API ignores the page parameter (it reads only limit, as before 2025); reading by created_at alone from now on`,
          { account: account.label },
        );
      }
      if (outcome.unreadable) {
        tally.unreadable.push(outcome.unreadable);
        ctx.logger.error(
          `account ${account.label}: more events share the millisecond ${outcome.unreadable.millisecond} than one response holds (${outcome.unreadable.read} read), ` +
            'and this API ignores page offsets, so the rest of that millisecond cannot be read; shipping the rest of the window (see README, "How events are read")',
          { account: account.label },
        );
      }
      const more = !pager.done && !ctx.signal?.aborted && wanted();
      if (more) next = fetchNext();
      const fresh = outcome.fresh;
      tally.fetched += fresh.length;
      if (fresh.length > 0) {
        let pageMax = '';
        for (const row of fresh) if (row.time > pageMax) pageMax = row.time;
        for (const lane of lanes) {
          if (!lane.takesPages) continue;
          const room = await lane.waitForRoom();
          if (room === 'room') {
            lane.push(fresh, pageMax, ctx.recordAccountId);
          } else if (room === 'out of patience') {
            lane.attached = false;
            ctx.logger.warn(
              `output ${lane.name} (account ${account.label}) is slower than the others; it is left behind and catches up in its own reads`,
              { output: lane.name, account: account.label },
            );
          }
        }
        ctx.onPage?.({ account: account.label, fetched: fresh.length, position: pageMax });
      }
      if (!more) return { complete: pager.done, until };
    }
  } catch (error) {
    // A shutdown aborts the page being fetched; that is a stop, not an error of the account.
    if (ctx.signal?.aborted) return { complete: false, until };
    return { complete: false, until, error: error instanceof Error ? error : new Error(String(error)) };
  }
}

/**
 * `until`, moved back when the API's clock (its Date header) shows the host's clock ahead: the
 * range must not end past what the API can show yet. Warns once per poll when the skew is large.
 */
function boundByApiClock(until: string, response: Page, settleMs: number, ctx: ReadContext, tally: ReadTally): string {
  if (response.serverDateMs === undefined) return until;
  // Date has whole seconds, so the host is ahead by at most this much (and by at least 1 s less).
  const aheadAtMost = response.receivedAtMs - response.serverDateMs;
  if (aheadAtMost <= 1000) return until;
  const bound = canonicalFromMs(ctx.clock.now() - aheadAtMost - settleMs);
  if (bound >= until) return until;
  if (!tally.skewWarned && aheadAtMost - 500 > SKEW_WARNING_MS) {
    tally.skewWarned = true;
    ctx.logger.warn(
      `account ${ctx.account.label}: this host's clock is about ${Math.round((aheadAtMost - 500) / 1000)} s ahead of the Cloudflare API's; the read window ends by the API's clock (fix NTP on this host)`,
      { account: ctx.account.label },
    );
  }
  return bound;
}

/** Parses times, keeps the half-open range `[since, until)` and drops rows without a valid time. */
function timedRows(
  events: readonly EventRecord[],
  since: string,
  until: string,
  ctx: ReadContext,
  tally: ReadTally,
): Row[] {
  const rows: Row[] = [];
  for (const event of events) {
    const ts = typeof event.created_at === 'string' ? parseTimestamp(event.created_at) : undefined;
    if (ts === undefined) {
      ctx.onInvalidEvent?.({ account: ctx.account.label, reason: 'created_at is missing or not RFC 3339', event });
      continue;
    }
    const time = canonicalTime(ts);
    // The API's bounds are inclusive at both ends and it has returned rows outside them.
    if (time < since || time >= until) {
      tally.outOfWindow++;
      continue;
    }
    rows.push({ event, time, epochMs: ts.epochMs }); // hashed later, only if needed (see cursor.ts)
  }
  return rows;
}
