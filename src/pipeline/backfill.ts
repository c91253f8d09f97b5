/**
 * `backfill`: ships a past range to chosen outputs without touching the daemon's checkpoints.
 * Progress lives in its own state file under a job key (`<state dir>/backfill/<key>.json`), so
 * it runs beside the daemon and re-running the same command resumes.
 */
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Config } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { canonicalFromMs } from '../format/time.js';
import type { Logger } from '../ops/logger.js';
import { type Clock, realClock } from '../clock.js';
import { emptyState, type StateData } from '../state/schema.js';
import { StateStore } from '../state/store.js';
import { deadLetterPath } from '../sink/dead-letter.js';
import { pollAccount, type AccountPollResult, type PollDeps } from './poll.js';
import { Progress } from './progress.js';
import { accountLabel, describePoll, logInvalidEvent, roundServices } from './run-once.js';
import { closeOutputs, createClient, openOutputs, persistentLimiter, reopenOnHangup } from './runtime.js';
import { parseTimeArg } from './time-arg.js';

export interface BackfillArgs {
  since: string;
  until?: string | undefined;
  outputs?: string[] | undefined;
  dryRun?: boolean | undefined;
  restart?: boolean | undefined;
  recoverFromBackup?: boolean | undefined;
}

export interface BackfillIo {
  logger: Logger;
  stderr: NodeJS.WriteStream | { isTTY?: boolean; write(text: string): boolean };
  stdout: { write(text: string): boolean };
  clock?: Clock;
  signal?: AbortSignal;
}

export function backfillDirectory(config: Config): string {
  return join(dirname(config.state.path), 'backfill');
}

/** Same arguments, same accounts and API → same key, so re-running resumes. */
export function jobKey(config: Config, args: BackfillArgs, outputs: readonly string[]): string {
  const identity = {
    since: args.since,
    until: args.until ?? null,
    outputs: [...outputs].sort(),
    accounts: config.cloudflare.accounts.map((a) => a.id).sort(),
    base_url: config.cloudflare.base_url,
  };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
}

export async function backfill(config: Config, args: BackfillArgs, io: BackfillIo): Promise<number> {
  const clock = io.clock ?? realClock;
  const now = clock.now();
  const known = new Set(config.outputs.map((o) => o.name));
  const unknown = (args.outputs ?? []).filter((name) => !known.has(name));
  if (unknown.length > 0)
    throw new UsageError(
      `--output ${unknown.join(', ')}: no such output; configured outputs are ${[...known].join(', ')}`,
    );
  const outputNames = args.outputs && args.outputs.length > 0 ? [...new Set(args.outputs)] : [...known];
  let since = parseTimeArg('--since', args.since, now);
  let until =
    args.until === undefined ? canonicalFromMs(now - config.poll.settle) : parseTimeArg('--until', args.until, now);
  if (since >= until) throw new UsageError(`--since (${since}) must be before --until (${until})`);

  const { logger } = io;
  const key = jobKey(config, args, outputNames);
  const path = join(backfillDirectory(config), `${key}.json`);
  const store = args.dryRun
    ? undefined
    : await StateStore.open(path, { recoverFromBackup: args.recoverFromBackup, onNotice: (m) => io.logger.warn(m) });
  try {
    const job = store?.data.job;
    if (store && job && !args.restart) {
      if (job.completed_at !== undefined) {
        io.stdout.write(
          `backfill ${key} already completed at ${job.completed_at}: ${job.events} events, ${job.pages} pages. Use --restart to ship the range again.\n`,
        );
        return 0;
      }
      // Resume with the range resolved when the job started (relative arguments move with time).
      since = job.since;
      until = job.until;
      logger.info(`backfill ${key}: resuming [${since}, ${until}) from its saved position`);
    } else if (store) {
      Object.assign(store.data, emptyState());
      store.dedup?.reset();
      const stamp = new Date(now).toISOString();
      store.data.job = {
        key,
        command: commandLine(args),
        since,
        until,
        outputs: outputNames,
        started_at: stamp,
        updated_at: stamp,
        events: 0,
        pages: 0,
      };
      await store.save();
      logger.info(`backfill ${key}: [${since}, ${until}) to ${outputNames.join(', ')}; progress saved in ${path}`);
    }

    const daemonState = await readOnlyState(config);
    const limiter = persistentLimiter(
      config,
      store ?? { data: emptyState(), save: () => Promise.resolve() },
      logger,
      clock,
      daemonState,
    );
    const client = createClient(config, limiter, logger, clock);
    const outputs = store ? await openOutputs(config, store, logger, outputNames) : [];
    const stopHangup = reopenOnHangup(outputs, logger, store);
    const progress = new Progress({
      since,
      until,
      tty: io.stderr.isTTY === true,
      write: (text) => io.stderr.write(text),
      log: (line) => logger.info(line),
      now: () => clock.now(),
    });
    const results: AccountPollResult[] = [];
    const { catchUps, catchUpBudget } = roundServices(config, clock);
    try {
      for (const account of config.cloudflare.accounts) {
        const label = accountLabel(account);
        const plan = { until, initialCheckpoint: since, overlapMs: 0, settleMs: config.poll.settle };
        const deps: PollDeps = {
          client,
          outputs,
          logger,
          clock,
          pageSize: config.cloudflare.page_size,
          signal: io.signal,
          slowOutputWaitMs: config.poll.slow_output_wait,
          deadLetterPath: (output) => deadLetterPath(config.state.path, output),
          state: store ?? { data: emptyState(), save: () => Promise.resolve() },
          onInvalidEvent: logInvalidEvent(logger),
        };
        const result = await pollAccount({ id: account.id, label }, plan, {
          ...deps,
          onPage: (info) => {
            progress.page(info);
            if (store?.data.job) {
              store.data.job.events += info.fetched;
              store.data.job.pages += 1;
              store.data.job.updated_at = new Date(clock.now()).toISOString();
            }
          },
          // An output behind the others (an earlier run stopped it) reads on its own, within a share of the budget.
          catchUp: (output) =>
            catchUps.launch(account.id, output.name, async () => {
              const caughtUp = await pollAccount({ id: account.id, label }, plan, {
                ...deps,
                outputs: [output],
                budget: catchUpBudget,
              });
              results.push(caughtUp);
              logger.info(`catch-up: ${describePoll(caughtUp)}`);
            }),
        });
        results.push(result);
        logger.info(describePoll(result));
      }
      await catchUps.idle();
    } finally {
      progress.done();
      stopHangup();
      await closeOutputs(outputs, logger);
      client.close();
    }
    const failed = results.some((r) => r.error !== undefined || Object.keys(r.failedOutputs).length > 0);
    for (const r of results) {
      if (r.error) logger.error(`account ${r.account}: ${r.error.message}`);
      for (const [name, error] of Object.entries(r.failedOutputs))
        logger.error(`output ${name} (account ${r.account}): ${error.message}`);
    }
    const total = results.reduce((n, r) => n + r.fetched, 0);
    if (args.dryRun) {
      io.stdout.write(
        `dry run: ${total} events in [${since}, ${until}) across ${results.length} account(s), ${results.reduce((n, r) => n + r.requests, 0)} API request(s); nothing shipped\n`,
      );
    } else if (store?.data.job) {
      if (!failed) store.data.job.completed_at = new Date(clock.now()).toISOString();
      await store.save();
      io.stdout.write(
        failed
          ? `backfill ${key} stopped with errors; run the same command again to resume\n`
          : `backfill ${key} complete: ${store.data.job.events} events in [${since}, ${until})\n`,
      );
    }
    return failed ? 1 : 0;
  } finally {
    await store?.close();
  }
}

function commandLine(args: BackfillArgs): string {
  const parts = ['backfill', '--since', args.since];
  if (args.until !== undefined) parts.push('--until', args.until);
  for (const name of args.outputs ?? []) parts.push('--output', name);
  return parts.join(' ');
}

/** The daemon's state, read without its lock, for a cooldown it saved (the token is shared). */
async function readOnlyState(config: Config): Promise<StateData | undefined> {
  try {
    return (await StateStore.open(config.state.path, { readOnly: true })).data;
  } catch {
    return undefined;
  }
}
