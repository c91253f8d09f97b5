/**
 * One poll of one account: read the window `[min(checkpoint − overlap), until)` page by page and
 * fan each page out to every output. Each output filters by its own checkpoint and dedup hashes,
 * so an output that is down never stalls or re-sends to another. After each page, one state save
 * records what every output confirmed (cursor update travels with the batch, Filebeat-style).
 * Memory is flat: one page at a time.
 */
import type { AccessEvent } from '../format/event.js';
import { canonicalize, apiTime, epochMillis } from '../format/time.js';
import { eventHash } from '../source/event-identity.js';
import type { CloudflareClient } from '../source/cloudflare-client.js';
import { backoffDelay } from '../source/retry.js';
import type { Clock } from '../source/rate-limiter.js';
import type { AccountState, StateData } from '../state/schema.js';
import type { StateHolder } from '../state/store.js';
import type { Logger } from '../ops/logger.js';
import type { OutputRecord, Sink } from '../sink/types.js';
import { OutputCursor, type TimedEvent } from './cursor.js';
import { deliverWithRetry } from './deliver.js';

export interface OutputRuntime {
  name: string;
  sink: Sink;
  format: (event: AccessEvent, context: { accountId?: string }) => string;
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
  duplicates: Record<string, number>;
  failedOutputs: Record<string, Error>;
  error?: Error;
}

interface ActiveOutput {
  runtime: OutputRuntime;
  cursor: OutputCursor;
  /** Events before this (fixed for the poll) are behind this output. */
  floor: string;
  failed?: Error;
  shipped: number;
  /** Shipped since the last state save (added to `delivered` by the next one). */
  unsaved: number;
  duplicates: number;
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
  const active: ActiveOutput[] = deps.outputs.map((runtime) => {
    const saved = stateAccount.outputs[runtime.name];
    const cursor = new OutputCursor(saved?.checkpoint ?? plan.initialCheckpoint, plan.overlapMs, saved);
    return { runtime, cursor, floor: cursor.floor, shipped: 0, unsaved: 0, duplicates: 0 };
  });
  const result: AccountPollResult = {
    account: account.label, since: undefined, until: plan.until, pages: 0, requests: 0, fetched: 0, outOfWindow: 0,
    shipped: {}, duplicates: {}, failedOutputs: {},
  };
  const since = active.length === 0 ? plan.initialCheckpoint : active.map((o) => o.floor).reduce((a, b) => (a < b ? a : b));
  result.since = since;
  if (since >= plan.until) return await finish();

  try {
    for (let page = 1; ; page++) {
      if (deps.signal?.aborted) break;
      const response = await deps.client.fetchPage({
        accountId: account.id, accountLabel: account.label, since: apiTime(since, 'down'), until: apiTime(plan.until, 'up'),
        page, perPage: deps.pageSize, signal: deps.signal,
      });
      result.pages++;
      result.requests += response.requests;
      const rows = timedRows(response.events, since, plan.until, account, deps, result);
      result.fetched += rows.length;
      let pageMax = '';
      for (const row of rows) if (row.time > pageMax) pageMax = row.time;
      let shippedThisPage = 0;
      for (const output of active) {
        if (output.failed) continue;
        const shipped = await shipPage(output, rows, account, deps);
        if (shipped === undefined) continue; // this output failed; the others go on
        shippedThisPage += shipped;
        if (pageMax !== '') output.cursor.advance([], pageMax);
      }
      await commit(active, stateAccount, deps, false);
      deps.onPage?.({ account: account.label, page, fetched: rows.length, shipped: shippedThisPage, position: pageMax });
      // A short (or empty) page ends the window; total_count is unreliable (seen as 0 on full pages).
      if (response.events.length < deps.pageSize) {
        for (const output of active) if (!output.failed) output.cursor.advance([], plan.until);
        await commit(active, stateAccount, deps, true);
        break;
      }
    }
  } catch (error) {
    result.error = error as Error;
    stateAccount.last_error = { at: new Date(deps.clock.now()).toISOString(), message: (error as Error).message, code: (error as { code?: string }).code };
    await deps.state.save();
  }
  return await finish();

  async function finish(): Promise<AccountPollResult> {
    for (const output of active) {
      result.shipped[output.runtime.name] = output.shipped;
      result.duplicates[output.runtime.name] = output.duplicates;
      if (output.failed) result.failedOutputs[output.runtime.name] = output.failed;
    }
    if (result.since !== undefined && result.since < plan.until && !result.error) {
      stateAccount.last_poll = {
        at: new Date(deps.clock.now()).toISOString(), since: result.since, until: plan.until, fetched: result.fetched,
        requests: result.requests, duration_ms: deps.clock.now() - started,
      };
      delete stateAccount.last_error;
      await deps.state.save();
    }
    return result;
  }
}

interface Row extends TimedEvent {
  event: AccessEvent;
}

/** Parses times, keeps the half-open window `[since, until)` and drops rows without a valid time. */
function timedRows(events: readonly AccessEvent[], since: string, until: string, account: AccountRef, deps: PollDeps, result: AccountPollResult): Row[] {
  const rows: Row[] = [];
  for (const event of events) {
    const time = typeof event.created_at === 'string' ? canonicalize(event.created_at) : undefined;
    if (time === undefined) {
      deps.onInvalidEvent?.({ account: account.label, reason: 'created_at is missing or not RFC 3339', event });
      continue;
    }
    // The API's bounds are inclusive at both ends and it has returned rows outside them.
    if (time < since || time >= until) {
      result.outOfWindow++;
      continue;
    }
    rows.push({ event, time, hash: eventHash(event) });
  }
  return rows;
}

/** Delivers this output's share of a page; the number shipped, or undefined when the output failed. */
async function shipPage(output: ActiveOutput, rows: readonly Row[], account: AccountRef, deps: PollDeps): Promise<number | undefined> {
  const selected: Row[] = [];
  const inBatch = new Set<string>();
  for (const row of rows) {
    if (row.time < output.floor) continue;
    if (output.cursor.has(row) || inBatch.has(row.hash)) {
      output.duplicates++;
      continue;
    }
    inBatch.add(row.hash);
    selected.push(row);
  }
  if (selected.length === 0) return 0;
  const records: OutputRecord[] = selected.map((row) => ({
    text: output.runtime.format(row.event, { accountId: account.id }),
    event: row.event,
    epochMs: epochMillis(row.time) ?? 0,
    accountId: account.id,
  }));
  const outcome = await deliverWithRetry(output.runtime, records, { attempts: deps.deliveryAttempts ?? 5, clock: deps.clock, logger: deps.logger, signal: deps.signal, backoff: (n) => backoffDelay(n, { baseMs: 1000, capMs: 30_000 }) });
  if (outcome.status !== 'delivered') {
    output.failed = outcome.error;
    return undefined;
  }
  const lastTime = selected.reduce((max, row) => (row.time > max ? row.time : max), '');
  output.cursor.advance(selected, lastTime);
  output.shipped += selected.length;
  output.unsaved += selected.length;
  return selected.length;
}

async function commit(active: readonly ActiveOutput[], stateAccount: AccountState, deps: PollDeps, windowDone: boolean): Promise<void> {
  const now = new Date(deps.clock.now()).toISOString();
  for (const output of active) {
    const name = output.runtime.name;
    const previous = stateAccount.outputs[name];
    if (output.failed) {
      if (previous) previous.last_error = { at: now, message: output.failed.message, code: (output.failed as { code?: string }).code };
      continue;
    }
    stateAccount.outputs[name] = {
      checkpoint: output.cursor.checkpoint,
      dedup: output.cursor.dedupState(),
      delivered: (previous?.delivered ?? 0) + output.unsaved,
      last_success: windowDone || output.shipped > 0 ? now : previous?.last_success,
      last_error: previous?.last_error,
    };
    output.unsaved = 0;
    const position = output.runtime.sink.position();
    if (position) deps.state.data.sinks[name] = position;
  }
  await deps.state.save();
}
