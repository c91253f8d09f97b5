/**
 * One poll of one account: read the window `[min(checkpoint − overlap), until)` page by page and
 * fan each page out to every output. Each output filters by its own checkpoint and dedup hashes,
 * so an output that is down never stalls or re-sends to another.
 *
 * Pages flow through a bounded pipeline: the next page is fetched while the current one is
 * delivered, an output may have a few batches in flight (HEC waiting for acks), and pages commit
 * strictly in order: one state save per page records what every output confirmed, so a
 * checkpoint never moves past a batch its output has not confirmed (Filebeat-style). At most
 * `max concurrency + 1` pages are in memory.
 */
import type { AccessEvent } from '../format/event.js';
import { plainString } from '../format/text.js';
import { apiTime, canonicalTime, parseTimestamp } from '../format/time.js';
import type { Logger } from '../ops/logger.js';
import type { Sink } from '../sink/types.js';
import type { CloudflareClient, Page } from '../source/cloudflare-client.js';
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

export interface AccountPollResult {
  account: string;
  since: string | undefined;
  until: string;
  pages: number;
  requests: number;
  fetched: number;
  outOfWindow: number;
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
    account: account.label, since: undefined, until: plan.until, pages: 0, requests: 0, fetched: 0, outOfWindow: 0,
    shipped: {}, deadLettered: {}, duplicates: {}, failedOutputs: {},
  };
  const since = lanes.length === 0 ? plan.initialCheckpoint : lanes.map((l) => l.floor).reduce((a, b) => (a < b ? a : b));
  result.since = since;
  const positions = new Map<OutputLane, SinkState | undefined>();
  const windowSize = Math.max(1, ...lanes.map((l) => l.concurrency)) + 1;
  const pending: PageJob[] = [];
  let reachedEnd = false;

  const fetch = (page: number): Promise<Page> => {
    const promise = deps.client.fetchPage({
      accountId: account.id, accountLabel: account.label, since: apiTime(since, 'down'), until: apiTime(plan.until, 'up'),
      page, perPage: deps.pageSize, signal: deps.signal,
    });
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
      let next = fetch(1);
      for (let page = 1; ; page++) {
        const response = await next;
        result.pages++;
        result.requests += response.requests;
        // A short (or empty) page ends the window; total_count is unreliable (seen as 0 on full pages).
        const full = response.events.length >= deps.pageSize;
        const more = full && !deps.signal?.aborted && (lanes.length === 0 || lanes.some((l) => !l.failed));
        if (more) next = fetch(page + 1);
        const rows = timedRows(response.events, since, plan.until, account, deps, result);
        result.fetched += rows.length;
        let pageMax = '';
        for (const row of rows) if (row.time > pageMax) pageMax = row.time;
        const job: PageJob = { page, rows, pageMax, deliveries: new Map() };
        for (const lane of lanes) if (!lane.failed) job.deliveries.set(lane, lane.deliver(lane.select(rows), recordAccountId));
        pending.push(job);
        while (pending.length >= windowSize) await commitOldest();
        if (!full) reachedEnd = true;
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
      for (const lane of lanes) if (!lane.failed) lane.cursor.advance([], plan.until);
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
    stateAccount.last_poll = { at: now, since, until: plan.until, fetched: result.fetched, requests: result.requests, duration_ms: deps.clock.now() - started };
    delete stateAccount.last_error;
    await deps.state.save();
  }
  return result;
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
