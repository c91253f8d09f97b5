/**
 * One poll of one account: read the window `[min(checkpoint − overlap), until)` with keyset paging
 * (AccessPager: every request starts at a created_at already read, and the window ends only when a
 * request brings nothing new) and fan each page out to every output. Each output filters by its
 * own checkpoint and dedup hashes, so an output that is down never re-sends to another.
 *
 * The window's end is bounded by the API's own clock too (its `Date` header): a host clock that
 * runs ahead must not step over events the API does not show yet.
 *
 * Pages flow through a bounded pipeline: the next page is fetched while the current one is
 * delivered, an output may have a few batches in flight (HEC waiting for acks), and pages commit
 * strictly in order: one state save per page records what every output confirmed, so a
 * checkpoint never moves past a batch its output has not confirmed (Filebeat-style). At most
 * `max concurrency + 1` pages are in memory.
 */
import type { AccessEvent } from '../format/event.js';
import { plainString } from '../format/text.js';
import { apiTime, canonicalFromMs, canonicalTime, parseTimestamp } from '../format/time.js';
import type { Logger } from '../ops/logger.js';
import type { Sink } from '../sink/types.js';
import { AccessPager, type PageQuery } from '../source/access-pager.js';
import type { CloudflareClient, Page } from '../source/cloudflare-client.js';
import { CloudflareParameterError } from '../source/cloudflare-errors.js';
import type { Clock } from '../source/rate-limiter.js';
import type { AccountState, SinkState, StateData } from '../state/schema.js';
import type { StateHolder } from '../state/store.js';
import { OutputCursor } from './cursor.js';
import { OutputLane, type PageDelivery, type Row } from './output-lane.js';

export interface OutputRuntime {
  name: string;
  sink: Sink;
  format: (event: AccessEvent, context: { accountId?: string; epochMs?: number }) => string;
}

export interface AccountRef {
  id: string;
  label: string;
}

export interface WindowPlan {
  /** Exclusive upper bound (canonical). */
  until: string;
  /** Checkpoint for an output seen for the first time (canonical). */
  initialCheckpoint: string;
  overlapMs: number;
  /** Events younger than this (by the API's clock) are not read yet; bounds `until` by the API's clock. */
  settleMs?: number;
}

export interface PollDeps {
  client: CloudflareClient;
  state: StateHolder;
  outputs: readonly OutputRuntime[];
  logger: Logger;
  clock: Clock;
  pageSize: number;
  deliveryAttempts?: number;
  signal?: AbortSignal;
  /** Where rejected records of an output go (`<state dir>/dead-letter/<output>.ndjson`). */
  deadLetterPath?: (output: string) => string;
  onPage?: (info: { account: string; page: number; fetched: number; shipped: number; position: string }) => void;
  onInvalidEvent?: (info: { account: string; reason: string; event: AccessEvent }) => void;
}

/** Local clock ahead of the API's by more than this is worth a warning (its Date header has whole seconds). */
const SKEW_WARNING_MS = 5_000;

export interface AccountPollResult {
  account: string;
  since: string | undefined;
  until: string;
  pages: number;
  requests: number;
  fetched: number;
  outOfWindow: number;
  /** Runs of one millisecond the API could not page through (it ignores `page`): rows read of each. */
  unreadable: { millisecond: string; read: number }[];
  shipped: Record<string, number>;
  deadLettered: Record<string, number>;
  duplicates: Record<string, number>;
  failedOutputs: Record<string, Error>;
  error?: Error;
}

interface PageJob {
  page: number;
  rows: Row[];
  pageMax: string;
  deliveries: Map<OutputLane, Promise<PageDelivery>>;
}

function accountState(data: StateData, accountId: string): AccountState {
  let account = data.accounts[accountId];
  if (!account) {
    account = { outputs: {} };
    data.accounts[accountId] = account;
  }
  return account;
}

export async function pollAccount(account: AccountRef, plan: WindowPlan, deps: PollDeps): Promise<AccountPollResult> {
  const started = deps.clock.now();
  const stateAccount = accountState(deps.state.data, account.id);
  // A plain copy for the records: the id is a key in the state (see plainString).
  const recordAccountId = plainString(account.id);
  const laneDeps = { logger: deps.logger, clock: deps.clock, deliveryAttempts: deps.deliveryAttempts ?? 5, signal: deps.signal, deadLetterPath: deps.deadLetterPath };
  const lanes = deps.outputs.map((runtime) => {
    const saved = stateAccount.outputs[runtime.name];
    return new OutputLane(runtime, new OutputCursor(saved?.checkpoint ?? plan.initialCheckpoint, plan.overlapMs, saved), laneDeps);
  });
  const result: AccountPollResult = {
    account: account.label, since: undefined, until: plan.until, pages: 0, requests: 0, fetched: 0, outOfWindow: 0, unreadable: [],
    shipped: {}, deadLettered: {}, duplicates: {}, failedOutputs: {},
  };
  const since = lanes.length === 0 ? plan.initialCheckpoint : lanes.map((l) => l.floor).reduce((a, b) => (a < b ? a : b));
  result.since = since;
  const positions = new Map<OutputLane, SinkState | undefined>();
  const windowSize = Math.max(1, ...lanes.map((l) => l.concurrency)) + 1;
  const pending: PageJob[] = [];
  let reachedEnd = false;
  let until = plan.until;
  let skewWarned = false;
  const pager = new AccessPager<Row>({ since, pageSize: deps.pageSize, traits: deps.client.traits });

  const request = async (query: PageQuery): Promise<{ query: PageQuery; response: Page }> => {
    for (;;) {
      try {
        const response = await deps.client.fetchPage({
          accountId: account.id, accountLabel: account.label, since: apiTime(query.since, 'down'), until: apiTime(until, 'up'),
          page: query.page, perPage: query.perPage, limit: query.limit, signal: deps.signal,
        });
        return { query, response };
      } catch (error) {
        if (!(error instanceof CloudflareParameterError) || !pager.refusedSize(query)) throw error;
        deps.logger.info(`account ${account.label}: the API takes only page sizes 1, 5, 10, 20, 25, 50, 100 and 1000 (it refused per_page=${query.perPage}, limit=${query.limit}); using those from now on`, { account: account.label });
        result.requests++;
        query = pager.next();
      }
    }
  };
  const fetchNext = (): Promise<{ query: PageQuery; response: Page }> => {
    const promise = request(pager.next());
    promise.catch(() => undefined); // awaited below; a prefetch failing before then must not be "unhandled"
    return promise;
  };
  // Page commits do not wait for the state file: saves run behind the pipeline (joined when the
  // disk is slower than the pages), in order, so a saved checkpoint is never ahead of a
  // confirmation. A failed save stops the poll at the next commit.
  let saving: Promise<void> = Promise.resolve();
  let saveError: Error | undefined;

  const commitOldest = async (): Promise<void> => {
    if (saveError !== undefined) throw saveError;
    const job = pending.shift();
    if (!job) return;
    let shipped = 0;
    for (const lane of lanes) {
      const delivery = job.deliveries.get(lane);
      if (!delivery) continue;
      const outcome = await delivery;
      if (lane.commit(outcome, job.pageMax) && outcome.ok) {
        positions.set(lane, outcome.position);
        shipped += outcome.shipped;
      }
    }
    const info = { account: account.label, page: job.page, fetched: job.rows.length, shipped, position: job.pageMax };
    saving = save(lanes, stateAccount, positions, deps, false).then(
      () => deps.onPage?.(info),
      (error: unknown) => {
        saveError ??= error instanceof Error ? error : new Error(String(error));
      },
    );
  };

  if (since < plan.until) {
    try {
      let next = fetchNext();
      for (let page = 1; ; page++) {
        const { query, response } = await next;
        result.pages++;
        result.requests += response.requests;
        until = boundByApiClock(until, response, plan.settleMs ?? 0, deps.clock, (skewMs) => {
          if (skewWarned || skewMs <= SKEW_WARNING_MS) return;
          skewWarned = true;
          deps.logger.warn(`account ${account.label}: this host's clock is about ${Math.round(skewMs / 1000)} s ahead of the Cloudflare API's; the read window ends by the API's clock (fix NTP on this host)`, { account: account.label });
        });
        result.until = until;
        const rows = timedRows(response.events, since, until, account, deps, result);
        const outcome = pager.accept(query, rows, response.events.length);
        if (outcome.learnedIgnoresPage) {
          deps.logger.warn(`account ${account.label}: the API ignores the page parameter (it reads only limit, as before 2025); reading by created_at alone from now on`, { account: account.label });
        }
        if (outcome.unreadable) {
          result.unreadable.push(outcome.unreadable);
          deps.logger.error(
            `account ${account.label}: more events share the millisecond ${outcome.unreadable.millisecond} than one response holds (${outcome.unreadable.read} read), ` +
              'and this API ignores page offsets, so the rest of that millisecond cannot be read; shipping the rest of the window (see README, "How events are read")',
            { account: account.label },
          );
        }
        const more = !pager.done && !deps.signal?.aborted && (lanes.length === 0 || lanes.some((l) => !l.failed));
        if (more) next = fetchNext();
        const fresh = outcome.fresh;
        result.fetched += fresh.length;
        if (fresh.length > 0) {
          let pageMax = '';
          for (const row of fresh) if (row.time > pageMax) pageMax = row.time;
          const job: PageJob = { page, rows: fresh, pageMax, deliveries: new Map() };
          for (const lane of lanes) if (!lane.failed) job.deliveries.set(lane, lane.deliver(lane.select(fresh), recordAccountId));
          pending.push(job);
        }
        while (pending.length >= windowSize) await commitOldest();
        if (pager.done) reachedEnd = true;
        if (!more) break;
      }
    } catch (error) {
      // A shutdown aborts the page being fetched; that is a stop, not an error of the account.
      if (!deps.signal?.aborted) result.error = error as Error;
    }
    // Deliveries already under way finish and commit, in order, even after an error or a stop.
    while (pending.length > 0) await commitOldest();
    await saving;
    if (saveError !== undefined) throw saveError;
    if (reachedEnd && !result.error && !deps.signal?.aborted) {
      for (const lane of lanes) if (!lane.failed) lane.cursor.advance([], until);
      await save(lanes, stateAccount, positions, deps, true);
    }
  }

  for (const lane of lanes) {
    result.shipped[lane.name] = lane.shipped;
    result.deadLettered[lane.name] = lane.deadLettered;
    result.duplicates[lane.name] = lane.duplicates;
    if (lane.failed) result.failedOutputs[lane.name] = lane.failed;
  }
  const now = new Date(deps.clock.now()).toISOString();
  if (result.error) {
    stateAccount.last_error = { at: now, message: result.error.message, code: (result.error as { code?: string }).code };
    await deps.state.save();
  } else if (since < plan.until && !deps.signal?.aborted) {
    stateAccount.last_poll = { at: now, since, until, fetched: result.fetched, requests: result.requests, duration_ms: deps.clock.now() - started };
    delete stateAccount.last_error;
    await deps.state.save();
  }
  return result;
}

/**
 * `until`, moved back when the API's clock (its Date header) shows the host's clock ahead: the
 * window must not end past what the API can show yet. Warns once per poll when the skew is large.
 */
function boundByApiClock(until: string, response: Page, settleMs: number, clock: Clock, onSkew: (skewMs: number) => void): string {
  if (response.serverDateMs === undefined) return until;
  // Date has whole seconds, so the host is ahead by at most this much (and by at least 1 s less).
  const aheadAtMost = response.receivedAtMs - response.serverDateMs;
  if (aheadAtMost <= 1000) return until;
  const bound = canonicalFromMs(clock.now() - aheadAtMost - settleMs);
  if (bound >= until) return until;
  onSkew(aheadAtMost - 500);
  return bound;
}

/** Parses times, keeps the half-open window `[since, until)` and drops rows without a valid time. */
function timedRows(events: readonly AccessEvent[], since: string, until: string, account: AccountRef, deps: PollDeps, result: AccountPollResult): Row[] {
  const rows: Row[] = [];
  for (const event of events) {
    const ts = typeof event.created_at === 'string' ? parseTimestamp(event.created_at) : undefined;
    if (ts === undefined) {
      deps.onInvalidEvent?.({ account: account.label, reason: 'created_at is missing or not RFC 3339', event });
      continue;
    }
    const time = canonicalTime(ts);
    // The API's bounds are inclusive at both ends and it has returned rows outside them.
    if (time < since || time >= until) {
      result.outOfWindow++;
      continue;
    }
    rows.push({ event, time, epochMs: ts.epochMs }); // hashed later, only if needed (see cursor.ts)
  }
  return rows;
}

/** Records every lane's committed position (one state save for the page). */
async function save(lanes: readonly OutputLane[], stateAccount: AccountState, positions: Map<OutputLane, SinkState | undefined>, deps: PollDeps, windowDone: boolean): Promise<void> {
  const now = new Date(deps.clock.now()).toISOString();
  for (const lane of lanes) {
    const previous = stateAccount.outputs[lane.name];
    if (lane.failed) {
      if (previous) previous.last_error = { at: now, message: lane.failed.message, code: (lane.failed as { code?: string }).code };
      continue;
    }
    stateAccount.outputs[lane.name] = {
      checkpoint: lane.cursor.checkpoint,
      dedup: lane.cursor.dedupState(),
      delivered: (previous?.delivered ?? 0) + lane.unsaved,
      dead_lettered: (previous?.dead_lettered ?? 0) + lane.unsavedDeadLettered,
      last_success: windowDone || lane.unsaved > 0 ? now : previous?.last_success,
      last_error: previous?.last_error,
    };
    lane.unsaved = 0;
    lane.unsavedDeadLettered = 0;
    const position = positions.get(lane);
    if (position) deps.state.data.sinks[lane.name] = position;
  }
  await deps.state.save();
}
