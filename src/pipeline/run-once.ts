/** `run --once`: one poll of every account into every output. */
import { createHash } from 'node:crypto';
import { formatDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import { canonicalFromMs } from '../format/time.js';
import type { Logger } from '../ops/logger.js';
import { type Clock, realClock } from '../clock.js';
import { type StateHolder, StateStore } from '../state/store.js';
import type { CloudflareClient } from '../source/cloudflare-client.js';
import { deadLetterPath } from '../sink/dead-letter.js';
import type { AccountConfig } from '../config/schema.js';
import type { RequestBudget } from '../source/cloudflare-client.js';
import { RateLimiter } from '../source/rate-limiter.js';
import type { StateData } from '../state/schema.js';
import { CatchUps } from './catch-up.js';
import { OutputSchedule } from './output-schedule.js';
import { type AccountPollResult, type OutputRuntime, pollAccount, type PollDeps, type WindowPlan } from './poll.js';
import { closeOutputs, createClient, openOutputs, persistentLimiter, reopenOnHangup } from './runtime.js';

export interface RunOnceOptions {
  recoverFromBackup?: boolean;
  clock?: Clock;
  signal?: AbortSignal;
}

export function accountLabel(account: { id: string; name?: string | undefined }): string {
  return account.name ?? account.id;
}

export function describePoll(result: AccountPollResult): string {
  const shipped = Object.entries(result.shipped)
    .map(([name, n]) => `${name}=${n}`)
    .join(' ');
  const duplicates = Object.values(result.duplicates).reduce((a, b) => a + b, 0);
  const dead = Object.entries(result.deadLettered)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${name}=${n}`)
    .join(' ');
  const fresh =
    result.since === undefined || result.since >= result.until
      ? 'nothing new to read'
      : `window [${result.since}, ${result.until})`;
  const window = result.swept ? `${fresh}, swept the overlap [${result.swept.from}, ${result.swept.to})` : fresh;
  return (
    `account ${result.account}: ${window}, fetched ${result.fetched} in ${result.pages} page(s) / ${result.requests} request(s), ` +
    `shipped ${shipped || 'none'}${duplicates > 0 ? `, ${duplicates} already shipped (overlap) skipped` : ''}${dead ? `, dead-lettered ${dead}` : ''}` +
    (result.unreadable.length > 0
      ? `, ${result.unreadable.length} millisecond(s) with more events than one response could not be read in full`
      : '')
  );
}

/** Logs an event skipped for lack of a valid created_at (pollAccount's onInvalidEvent). */
export function logInvalidEvent(logger: Logger): (info: { account: string; reason: string }) => void {
  return ({ account, reason }) => logger.error(`account ${account}: skipped an event: ${reason}`, { account });
}

export interface PollRound {
  config: Config;
  client: CloudflareClient;
  state: StateHolder;
  outputs: readonly OutputRuntime[];
  logger: Logger;
  clock: Clock;
  signal?: AbortSignal | undefined;
  /** Cancels deliveries' waits at the shutdown deadline (the daemon). */
  cancel?: AbortSignal | undefined;
  onResult?: (result: AccountPollResult) => void;
  /** Failed outputs rest (see output-schedule.ts). */
  schedule: OutputSchedule;
  /** Outputs reading on their own because they are behind. */
  catchUps: CatchUps;
  /** The share of the request budget all catch-up reads take from. */
  catchUpBudget: RequestBudget;
  /** Set when any account or output (catch-ups included) failed. */
  failed?: boolean;
  /** Accounts also pushed to the daemon's receiver: each event once per output across both. */
  arrivals?: PollDeps['arrivals'];
}

/** The parts of a round that outlive it: the retry schedule, the catch-ups and their budget. */
export function roundServices(
  config: Config,
  clock: Clock,
  state?: StateData,
  honourSavedRests = false,
): Pick<PollRound, 'schedule' | 'catchUps' | 'catchUpBudget'> {
  const { requests, per, catch_up_percent } = config.cloudflare.rate_limit;
  return {
    schedule: new OutputSchedule(
      state,
      honourSavedRests,
      new Map(
        config.outputs.map((o) => [o.name, createHash('sha256').update(JSON.stringify(o)).digest('hex').slice(0, 16)]),
      ),
    ),
    catchUps: new CatchUps(),
    catchUpBudget: new RateLimiter({
      requests: Math.max(1, Math.floor((requests * catch_up_percent) / 100)),
      perMs: per,
      clock,
    }),
  };
}

function windowPlan(config: Config, now: number): WindowPlan {
  return {
    until: canonicalFromMs(now - config.poll.settle),
    initialCheckpoint: canonicalFromMs(now - config.poll.initial_lookback),
    overlapMs: config.poll.overlap,
    settleMs: config.poll.settle,
    sweepEveryMs: config.poll.sweep_every,
  };
}

function pollDeps(round: PollRound, outputs: readonly OutputRuntime[]): PollDeps {
  const { config } = round;
  return {
    client: round.client,
    state: round.state,
    outputs,
    logger: round.logger,
    clock: round.clock,
    pageSize: config.cloudflare.page_size,
    signal: round.signal,
    cancel: round.cancel,
    slowOutputWaitMs: config.poll.slow_output_wait,
    deadLetterPath: (output) => deadLetterPath(config.state.path, output),
    onInvalidEvent: logInvalidEvent(round.logger),
    arrivals: round.arrivals,
  };
}

/** Starts an output's own read for an account (it is behind the others), unless one runs already. */
function startCatchUp(round: PollRound, account: AccountConfig, output: OutputRuntime): void {
  const label = accountLabel(account);
  round.catchUps.launch(account.id, output.name, async () => {
    round.logger.info(
      `output ${output.name} (account ${label}) is behind the other outputs: it catches up in its own reads, within ${round.config.cloudflare.rate_limit.catch_up_percent}% of the API budget`,
      { output: output.name, account: label },
    );
    const started = round.clock.now();
    const result = await pollAccount({ id: account.id, label }, windowPlan(round.config, started), {
      ...pollDeps(round, [output]),
      budget: round.catchUpBudget,
    });
    report(round, result, started, 'catch-up: ');
  });
}

/** Logs a poll's outcome, reschedules failed outputs; false when something failed. */
function report(round: PollRound, result: AccountPollResult, started: number, prefix = ''): boolean {
  const { logger, clock } = round;
  const label = result.account;
  round.onResult?.(result);
  logger.info(`${prefix}${describePoll(result)} (${formatDuration(clock.now() - started)})`, { account: label });
  let ok = true;
  if (result.error) {
    ok = false;
    logger.error(`account ${label}: ${result.error.message}`, {
      account: label,
      code: (result.error as { code?: string }).code,
    });
  }
  const stopped = new Set(result.stoppedOutputs);
  for (const name of Object.keys(result.shipped)) {
    const error = result.failedOutputs[name];
    if (!error) {
      if (round.schedule.succeeded(name)) logger.info(`output ${name} delivers again`, { output: name });
      continue;
    }
    ok = false;
    const failure = round.schedule.failed(name, stopped.has(name), clock.now());
    const next = `tried again in ${formatDuration(failure.retryAtMs - clock.now())} (failure ${failure.failures} in a row${failure.stopped ? '; it needs its configuration fixed' : ''})`;
    logger.error(
      `output ${name} (account ${label}): ${error.message}; its checkpoint stays at the last delivered batch; ${next}`,
      { output: name, account: label },
    );
  }
  if (!ok) round.failed = true;
  return ok;
}

/**
 * One poll of every account into every output that is not resting or catching up (`run --once`,
 * and each tick of the daemon), with a log line per account and one per failure. True when every
 * account and output polled here succeeded (catch-ups report through `round.failed`).
 */
export async function pollEveryAccount(round: PollRound): Promise<boolean> {
  const { config, clock } = round;
  const now = clock.now();
  let ok = true;
  for (const account of config.cloudflare.accounts) {
    if (round.signal?.aborted) break;
    const outputs = round.outputs.filter(
      (o) => !round.schedule.resting(o.name, now) && !round.catchUps.isRunning(account.id, o.name),
    );
    if (outputs.length === 0 && round.outputs.length > 0) continue;
    const started = clock.now();
    const result = await pollAccount({ id: account.id, label: accountLabel(account) }, windowPlan(config, now), {
      ...pollDeps(round, outputs),
      catchUp: (output) => startCatchUp(round, account, output),
    });
    if (!report(round, result, started)) ok = false;
  }
  return ok;
}

/** Returns the exit code: 0 when every account and output succeeded, else 1. */
export async function runOnce(config: Config, logger: Logger, options: RunOnceOptions = {}): Promise<number> {
  const clock = options.clock ?? realClock;
  const store = await StateStore.open(config.state.path, {
    recoverFromBackup: options.recoverFromBackup,
    onNotice: (m) => logger.warn(m),
  });
  let ok: boolean;
  try {
    const limiter = persistentLimiter(config, store, logger, clock);
    const client = createClient(config, limiter, logger, clock);
    const outputs = await openOutputs(config, store, logger);
    const stopHangup = reopenOnHangup(outputs, logger, store);
    try {
      const round: PollRound = {
        config,
        client,
        state: store,
        outputs,
        logger,
        clock,
        signal: options.signal,
        ...roundServices(config, clock, store.data),
      };
      ok = await pollEveryAccount(round);
      await round.catchUps.idle();
      if (round.failed) ok = false;
    } finally {
      stopHangup();
      await closeOutputs(outputs, logger);
      client.close();
    }
  } finally {
    await store.close();
  }
  return ok ? 0 : 1;
}
