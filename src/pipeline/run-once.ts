/** `run --once`: one poll of every account into every output. */
import { formatDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import { canonicalFromMs } from '../format/time.js';
import type { Logger } from '../ops/logger.js';
import { type Clock, realClock } from '../source/rate-limiter.js';
import { type StateHolder, StateStore } from '../state/store.js';
import type { CloudflareClient } from '../source/cloudflare-client.js';
import { deadLetterPath } from '../sink/dead-letter.js';
import { type AccountPollResult, type OutputRuntime, pollAccount } from './poll.js';
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
  const shipped = Object.entries(result.shipped).map(([name, n]) => `${name}=${n}`).join(' ');
  const duplicates = Object.values(result.duplicates).reduce((a, b) => a + b, 0);
  const dead = Object.entries(result.deadLettered).filter(([, n]) => n > 0).map(([name, n]) => `${name}=${n}`).join(' ');
  const window = result.since === undefined || result.since >= result.until ? 'nothing new to read' : `window [${result.since}, ${result.until})`;
  return (
    `account ${result.account}: ${window}, fetched ${result.fetched} in ${result.pages} page(s) / ${result.requests} request(s), ` +
    `shipped ${shipped || 'none'}${duplicates > 0 ? `, ${duplicates} already shipped (overlap) skipped` : ''}${dead ? `, dead-lettered ${dead}` : ''}` +
    (result.unreadable.length > 0 ? `, ${result.unreadable.length} millisecond(s) with more events than one response could not be read in full` : '')
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
  onResult?: (result: AccountPollResult) => void;
}

/**
 * One poll of every account into every output (`run --once`, and each tick of the daemon), with a
 * log line per account and one per failure. True when every account and output succeeded.
 */
export async function pollEveryAccount(round: PollRound): Promise<boolean> {
  const { config, logger, clock } = round;
  const now = clock.now();
  let ok = true;
  for (const account of config.cloudflare.accounts) {
    if (round.signal?.aborted) break;
    const label = accountLabel(account);
    const started = clock.now();
    const result = await pollAccount(
      { id: account.id, label },
      { until: canonicalFromMs(now - config.poll.settle), initialCheckpoint: canonicalFromMs(now - config.poll.initial_lookback), overlapMs: config.poll.overlap, settleMs: config.poll.settle },
      {
        client: round.client, state: round.state, outputs: round.outputs, logger, clock, pageSize: config.cloudflare.page_size, signal: round.signal,
        deadLetterPath: (output) => deadLetterPath(config.state.path, output),
        onInvalidEvent: logInvalidEvent(logger),
      },
    );
    round.onResult?.(result);
    logger.info(`${describePoll(result)} (${formatDuration(clock.now() - started)})`, { account: label });
    if (result.error) {
      ok = false;
      logger.error(`account ${label}: ${result.error.message}`, { account: label, code: (result.error as { code?: string }).code });
    }
    for (const [name, error] of Object.entries(result.failedOutputs)) {
      ok = false;
      logger.error(`output ${name} (account ${label}): ${error.message}; its checkpoint stays at the last delivered batch`, { output: name, account: label });
    }
  }
  return ok;
}

/** Returns the exit code: 0 when every account and output succeeded, else 1. */
export async function runOnce(config: Config, logger: Logger, options: RunOnceOptions = {}): Promise<number> {
  const clock = options.clock ?? realClock;
  const store = await StateStore.open(config.state.path, { recoverFromBackup: options.recoverFromBackup });
  let ok: boolean;
  try {
    const limiter = persistentLimiter(config, store, logger, clock);
    const client = createClient(config, limiter, logger, clock);
    const outputs = await openOutputs(config, store, logger);
    const stopHangup = reopenOnHangup(outputs, logger, store);
    try {
      ok = await pollEveryAccount({ config, client, state: store, outputs, logger, clock, signal: options.signal });
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
