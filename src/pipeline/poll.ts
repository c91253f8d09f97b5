/**
 * One poll of one account for a set of outputs that read together. Each output (lane) keeps its
 * own cursor, queue and commits, so one output never holds back another's checkpoint.
 *
 * What is read: new data `[checkpoint, until)` every poll, and, every `sweep_every`, the part of the
 * overlap that has settled, `[swept, checkpoint − overlap)`, for late arrivals (see cursor.ts): in
 * steady state an event is read twice. Outputs far behind the others (down, stopped, slow) are
 * handed to `catchUp` and read on their own, so the others read only what they need.
 *
 * Commits follow confirmations (Filebeat-style): a lane applies a page to its cursor only after
 * its output confirmed the page and every earlier one; the state is saved behind the commits
 * (coalesced, in order), so a saved checkpoint is never ahead of a confirmation.
 */
import type { EventRecord } from '../format/record.js';
import { safeText } from '../safe-text.js';
import { plainString } from '../format/text.js';
import { msOf, shiftCanonical } from '../format/time.js';
import type { Logger } from '../ops/logger.js';
import type { OutputRuntime } from '../sink/output-runtime.js';
import type { OutputRecord } from '../sink/types.js';
import type { CloudflareClient, RequestBudget } from '../source/cloudflare-client.js';
import type { Clock } from '../clock.js';
import type { AccountState, StateData } from '../state/schema.js';
import type { StateHolder } from '../state/store.js';
import type { SharedArrivals } from '../push/arrivals.js';
import { OutputCursor } from './cursor.js';
import { OutputLane } from './output-lane.js';
import { type AccountRef, newTally, type ReadContext, readRange } from './read-range.js';

export type { OutputRuntime } from '../sink/output-runtime.js';
export type { AccountRef } from './read-range.js';

export interface WindowPlan {
  /** Exclusive upper bound (canonical). */
  until: string;
  /** Checkpoint for an output seen for the first time (canonical). */
  initialCheckpoint: string;
  overlapMs: number;
  /** Events younger than this (by the API's clock) are not read yet; bounds `until` by the API's clock. */
  settleMs?: number;
  /** Sweep the settled overlap when at least this much of it is unswept (default: every poll). */
  sweepEveryMs?: number;
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
  /** Cancels what deliveries wait for (HEC acknowledgements) when the shutdown deadline passes. */
  cancel?: AbortSignal | undefined;
  /** Where rejected records of an output go (`<state dir>/dead-letter/<output>.ndjson`). */
  deadLetterPath?: (output: string) => string;
  /** A budget every request of this poll also takes from (catch-up reads). */
  budget?: RequestBudget;
  /** How long, in all, the read waits for one output whose queue is full (default: no limit). */
  slowOutputWaitMs?: number;
  /** Outputs behind the others go here to read on their own; without it they read with the others. */
  catchUp?: (output: OutputRuntime) => void;
  /** Accounts also pushed (Logpush): windows shared with the receiver, and the identity both use. */
  arrivals?: { windows: SharedArrivals; identity: (event: EventRecord) => string } | undefined;
  onPage?: (info: { account: string; fetched: number; position: string }) => void;
  onInvalidEvent?: (info: { account: string; reason: string; event: EventRecord }) => void;
}

export interface AccountPollResult {
  account: string;
  since: string | undefined;
  until: string;
  pages: number;
  requests: number;
  fetched: number;
  outOfWindow: number;
  /** The settled part of the overlap read for late arrivals in this poll, if any. */
  swept: { from: string; to: string } | undefined;
  /** Runs of one millisecond the API could not page through (it ignores `page`): rows read of each. */
  unreadable: { millisecond: string; read: number }[];
  shipped: Record<string, number>;
  deadLettered: Record<string, number>;
  duplicates: Record<string, number>;
  failedOutputs: Record<string, Error>;
  /** Outputs whose own verdict stopped them (they need a person): a subset of failedOutputs. */
  stoppedOutputs: string[];
  /** Outputs left behind by the read (too slow) or handed to their own catch-up read. */
  behindOutputs: string[];
  error?: Error;
}

function accountState(data: StateData, accountId: string): AccountState {
  let account = data.accounts[accountId];
  if (!account) {
    account = { outputs: {} };
    data.accounts[accountId] = account;
  }
  return account;
}

/** Outputs this far behind the one furthest ahead read on their own (if `catchUp` is given). */
export function catchUpThresholdMs(overlapMs: number): number {
  return Math.max(overlapMs, 60_000);
}

export async function pollAccount(account: AccountRef, plan: WindowPlan, deps: PollDeps): Promise<AccountPollResult> {
  const started = deps.clock.now();
  const stateAccount = accountState(deps.state.data, account.id);
  const tally = newTally();
  const result: AccountPollResult = {
    account: account.label,
    since: undefined,
    until: plan.until,
    pages: 0,
    requests: 0,
    fetched: 0,
    outOfWindow: 0,
    swept: undefined,
    unreadable: [],
    shipped: {},
    deadLettered: {},
    duplicates: {},
    failedOutputs: {},
    stoppedOutputs: [],
    behindOutputs: [],
  };
  const saver = new LaneSaver(stateAccount, deps);
  const laneDeps = {
    logger: deps.logger,
    clock: deps.clock,
    deliveryAttempts: deps.deliveryAttempts ?? 5,
    signal: deps.signal,
    cancel: deps.cancel,
    deadLetterPath: deps.deadLetterPath,
    onCommit: (lane: OutputLane) => saver.committed(lane),
  };
  let lanes = deps.outputs.map((runtime) => {
    const saved = stateAccount.outputs[runtime.name];
    // Patience matters only beside other outputs: alone, a slow output holds back no one.
    const patience = deps.outputs.length > 1 ? deps.slowOutputWaitMs : undefined;
    const cursor = new OutputCursor(
      saved?.checkpoint ?? plan.initialCheckpoint,
      plan.overlapMs,
      saved,
      deps.state.dedup?.index(account.id, runtime.name),
    );
    const lane = new OutputLane(runtime, cursor, laneDeps, patience);
    const window = deps.arrivals?.windows.window(account.id, runtime.name);
    if (window && deps.arrivals) lane.shared = { window, identity: deps.arrivals.identity };
    return lane;
  });
  if (deps.catchUp && lanes.length > 1) {
    const head = lanes.map((l) => l.cursor.checkpoint).reduce((a, b) => (a > b ? a : b));
    const threshold = shiftCanonical(head, -catchUpThresholdMs(plan.overlapMs));
    for (const lane of lanes.filter((l) => l.cursor.checkpoint < threshold)) {
      result.behindOutputs.push(lane.name);
      deps.catchUp(lane.runtime);
    }
    lanes = lanes.filter((l) => l.cursor.checkpoint >= threshold);
  }

  const ctx: ReadContext = {
    account,
    recordAccountId: plainString(account.id),
    client: deps.client,
    budget: deps.budget,
    logger: deps.logger,
    clock: deps.clock,
    pageSize: deps.pageSize,
    signal: deps.signal,
    onPage: deps.onPage,
    onInvalidEvent: deps.onInvalidEvent,
    halted: () => saver.error !== undefined,
  };
  const since =
    lanes.length === 0
      ? plan.initialCheckpoint
      : lanes.map((l) => l.cursor.checkpoint).reduce((a, b) => (a < b ? a : b));
  result.since = since;
  let read = false;
  if (since < plan.until) {
    read = true;
    // New data first: the freshest events reach the outputs soonest.
    const fresh = await readRange(since, plan.until, lanes, ctx, tally, plan.settleMs ?? 0);
    result.until = fresh.until;
    if (fresh.error) result.error = fresh.error;
    for (const lane of lanes)
      if (fresh.complete && lane.takesPages) lane.mark((cursor) => cursor.readThrough(since, fresh.until));
    await Promise.all(lanes.map((lane) => lane.drained()));
  }
  // Then the settled part of the overlap, when enough of it has not been swept yet.
  const sweepable = lanes.filter((l) => l.takesPages && l.cursor.overlapMs > 0);
  if (sweepable.length > 0 && !result.error && !deps.signal?.aborted && !saver.error) {
    const from = sweepable.map((l) => l.cursor.swept).reduce((a, b) => (a < b ? a : b));
    const to = sweepable.map((l) => l.cursor.sweepEnd).reduce((a, b) => (a < b ? a : b));
    if (to > from && msOf(to) - msOf(from) >= (plan.sweepEveryMs ?? 0)) {
      read = true;
      result.swept = { from, to };
      const sweep = await readRange(from, to, sweepable, ctx, tally);
      if (sweep.error) result.error = sweep.error;
      for (const lane of sweepable) if (sweep.complete && lane.takesPages) lane.mark((cursor) => cursor.sweptTo(to));
    }
  }
  // Deliveries already under way finish and commit, in order, even after an error or a stop.
  await Promise.all(lanes.map((lane) => lane.drained()));
  Object.assign(result, {
    pages: tally.pages,
    requests: tally.requests,
    fetched: tally.fetched,
    outOfWindow: tally.outOfWindow,
    unreadable: tally.unreadable,
  });

  for (const lane of lanes) {
    result.shipped[lane.name] = lane.shipped;
    result.deadLettered[lane.name] = lane.deadLettered;
    result.duplicates[lane.name] = lane.duplicates;
    if (lane.failed) {
      result.failedOutputs[lane.name] = lane.failed;
      if (lane.fatal) result.stoppedOutputs.push(lane.name);
    } else if (!lane.attached) {
      result.behindOutputs.push(lane.name);
    }
  }
  const now = new Date(deps.clock.now()).toISOString();
  if (result.error) {
    stateAccount.last_error = errorRecord(now, result.error);
  } else if (read && !deps.signal?.aborted) {
    stateAccount.last_poll = {
      at: now,
      since,
      until: result.until,
      fetched: result.fetched,
      requests: result.requests,
      duration_ms: deps.clock.now() - started,
    };
    delete stateAccount.last_error;
  }
  saver.recordAll(lanes, read && !result.error);
  const saveError = await saver.flush();
  if (saveError && !result.error) {
    result.error = saveError;
    // Kept in memory: the next save that succeeds records it.
    stateAccount.last_error = errorRecord(new Date(deps.clock.now()).toISOString(), saveError);
  }
  // Outputs the read left behind catch up on their own now, from what was just saved.
  if (!result.error && !deps.signal?.aborted)
    for (const lane of lanes) if (!lane.failed && !lane.attached) deps.catchUp?.(lane.runtime);
  return result;
}

/** An error as the state keeps it: what `status` shows, so masked, escaped and short. */
function errorRecord(at: string, error: Error): { at: string; message: string; code?: string } {
  const code = (error as { code?: unknown }).code;
  return { at, message: safeText(error.message), ...(typeof code === 'string' ? { code } : {}) };
}

/**
 * Records lanes into the state and saves it behind their commits: one save in flight and at most
 * one more asked for, which writes whatever has been committed by the time it starts.
 */
class LaneSaver {
  error: Error | undefined;
  private readonly dirty = new Set<OutputLane>();
  private saving: Promise<void> = Promise.resolve();
  private queued = false;

  constructor(
    private readonly stateAccount: AccountState,
    private readonly deps: PollDeps,
  ) {}

  committed(lane: OutputLane): void {
    this.dirty.add(lane);
    this.request();
  }

  /** Marks every lane for the final save (failures and last success included). */
  recordAll(lanes: readonly OutputLane[], windowDone: boolean): void {
    for (const lane of lanes) {
      this.dirty.add(lane);
      if (windowDone && !lane.failed && lane.attached) lane.windowDone = true;
    }
    this.request();
  }

  async flush(): Promise<Error | undefined> {
    await this.saving;
    return this.error;
  }

  private request(): void {
    if (this.queued) return;
    this.queued = true;
    this.saving = this.saving.then(async () => {
      this.queued = false;
      const settled: [OutputLane, (readonly OutputRecord[])[]][] = [];
      for (const lane of this.dirty) {
        this.record(lane);
        if (lane.unsettled.length > 0) settled.push([lane, lane.unsettled]);
        lane.unsettled = [];
      }
      this.dirty.clear();
      try {
        await this.deps.state.save();
        // Saved: what those pages' outputs kept to avoid resending them is not needed any more.
        for (const [lane, batches] of settled) for (const records of batches) lane.runtime.sink.settled?.(records);
      } catch (error) {
        this.error ??= error instanceof Error ? error : new Error(String(error));
      }
    });
  }

  private record(lane: OutputLane): void {
    const { stateAccount, deps } = this;
    const now = new Date(deps.clock.now()).toISOString();
    const previous = stateAccount.outputs[lane.name];
    const lastError = lane.failed ? errorRecord(now, lane.failed) : previous?.last_error;
    stateAccount.outputs[lane.name] = {
      checkpoint: lane.cursor.checkpoint,
      swept: lane.cursor.swept,
      dedup: lane.cursor.dedupState(),
      delivered: (previous?.delivered ?? 0) + lane.unsaved,
      dead_lettered: (previous?.dead_lettered ?? 0) + lane.unsavedDeadLettered,
      last_success: lane.windowDone || lane.unsaved > 0 ? now : previous?.last_success,
      last_error: lastError,
    };
    lane.unsaved = 0;
    lane.unsavedDeadLettered = 0;
    lane.windowDone = false;
    // A position in a file the output has since rotated away from (SIGHUP) must not replace the
    // new file's: the restart cut-back would look at the wrong file.
    const current = lane.runtime.sink.position()?.file;
    const committed = lane.position?.file;
    const rotated =
      current !== undefined &&
      committed !== undefined &&
      (current.ino !== committed.ino || current.dev !== committed.dev);
    if (lane.positionChanged && lane.position && !rotated) deps.state.data.sinks[lane.name] = lane.position;
    lane.positionChanged = false;
  }
}
