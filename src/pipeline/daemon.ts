/**
 * `run`: the daemon. Polls every account on `poll.schedule` (node-cron, noOverlap) and once at
 * start; serves /metrics and /healthz; watches its own lag. SIGTERM/SIGINT stop scheduling, let
 * the running batches finish and commit, close the outputs and release the lock (exit 0), or
 * exit 1 after `shutdown_timeout` with nothing unconfirmed committed; a second signal exits at
 * once. SIGHUP reopens file outputs and the log file.
 */
import { schedule } from 'node-cron';
import { formatDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import { msOf } from '../format/time.js';
import { healthReport } from '../ops/health.js';
import { exposureWarning, startOpsServer, type OpsServer } from '../ops/http-server.js';
import { type Logger, reopenLogFile } from '../ops/logger.js';
import { Metrics } from '../ops/metrics.js';
import { type Clock, realClock } from '../clock.js';
import { StateStore } from '../state/store.js';
import type { OutputRuntime } from '../sink/output-runtime.js';
import { accountLabel, pollEveryAccount, roundServices } from './run-once.js';
import { sharedArrivals, startPushReceiver } from './push.js';
import { POLLED } from '../datasets/index.js';
import type { EventRecord } from '../format/record.js';
import type { PushReceiver } from '../push/receiver.js';
import { closeOutputs, createClient, openOutputs, persistentLimiter, reopenOnHangup } from './runtime.js';

export interface DaemonOptions {
  recoverFromBackup?: boolean;
  clock?: Clock;
  /** Tests: resolves when the daemon is up (metrics port known). */
  onReady?: (info: { metricsPort?: number; pushPort?: number }) => void;
}

export async function runDaemon(config: Config, logger: Logger, options: DaemonOptions = {}): Promise<number> {
  const clock = options.clock ?? realClock;
  const startedAt = clock.now();
  const store = await StateStore.open(config.state.path, {
    recoverFromBackup: options.recoverFromBackup,
    onNotice: (m) => logger.warn(m),
  });
  const accounts = config.cloudflare.accounts.map((a) => ({
    id: a.id,
    label: accountLabel(a),
    retentionMs: a.retention,
  }));
  // Accounts both polled and pushed share, per output, what either arrival shipped.
  const windows = sharedArrivals(
    config,
    accounts.map((a) => a.id),
  );
  const arrivals = windows
    ? { windows, identity: (event: EventRecord) => (POLLED.sharedIdentity ?? POLLED.identity)(event) }
    : undefined;
  const limiter = persistentLimiter(config, store, logger, clock);
  const metrics = new Metrics({
    state: () => store.data,
    accounts,
    outputs: config.outputs.map((o) => o.name),
    cooldownEndsAt: () => limiter.cooldownEndsAt,
    now: () => clock.now(),
  });
  const client = createClient(config, limiter, logger, clock, (status) => {
    metrics.apiRequests.inc({ status: String(status) });
    if (status === 429) metrics.rateLimited.inc();
  });
  let outputs: OutputRuntime[] = [];
  let server: OpsServer | undefined;
  let receiver: PushReceiver | undefined;
  const abort = new AbortController();
  // Fired when shutdown_timeout passes: deliveries stop waiting for acknowledgements.
  const cancelDeliveries = new AbortController();
  let running: Promise<void> | undefined;
  let overlapLogged = false;
  let signals = 0;
  let requestStop: (signal: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => (requestStop = resolve));

  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      logger.info(
        `${signal}: stopping; the running batches finish and commit first (at most ${formatDuration(config.daemon.shutdown_timeout)})`,
      );
      requestStop(signal);
      return;
    }
    // A second signal: leave now. Commits only ever follow confirmations, so nothing unconfirmed is saved.
    logger.warn(`${signal} again: exiting at once`);
    store.releaseLockNow();
    process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let stopHangup: () => void = () => undefined;

  // The daemon honours the rests a previous run saved: a restart must not hammer a dead output.
  const services = roundServices(config, clock, store.data, true);
  const pollAll = async (): Promise<void> => {
    await pollEveryAccount({
      config,
      client,
      state: store,
      outputs,
      logger,
      clock,
      signal: abort.signal,
      cancel: cancelDeliveries.signal,
      onResult: (result) => metrics.recordPoll(result),
      arrivals,
      ...services,
    });
    watchLag();
  };

  /** Warn past alert_lag; shout when the lag nears the account's retention (events about to vanish). */
  const watchLag = (): void => {
    const now = clock.now();
    for (const account of accounts) {
      for (const output of outputs) {
        const cursor = store.data.accounts[account.id]?.outputs[output.name];
        if (!cursor) continue;
        const lag = now - msOf(cursor.checkpoint);
        if (lag > account.retentionMs * 0.75) {
          logger.error(
            `output ${output.name} is ${formatDuration(lag)} behind for account ${account.label}, close to Cloudflare's retention of ${formatDuration(account.retentionMs)}: events older than that are gone for good. Fix the output, or backfill what is left.`,
            { output: output.name, account: account.label },
          );
        } else if (lag > config.daemon.alert_lag) {
          logger.warn(
            `output ${output.name} is ${formatDuration(lag)} behind for account ${account.label} (alert_lag ${formatDuration(config.daemon.alert_lag)})`,
            { output: output.name, account: account.label },
          );
        }
      }
    }
  };

  const runPoll = (): Promise<void> => {
    if (running) {
      if (!overlapLogged)
        logger.debug(
          'the previous poll is still running; skipping this tick (said once: polls slower than the schedule are normal during catch-up)',
        );
      overlapLogged = true;
      return running;
    }
    running = pollAll()
      .catch((error: unknown) => {
        logger.error(`poll failed: ${(error as Error).message}`);
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  let exitCode = 0;
  let cleanAfterTimeout = false;
  try {
    outputs = await openOutputs(config, store, logger, undefined, {
      onAckLatency: (output, ms) => metrics.ackLatency.observe({ output }, ms / 1000),
      onHecMaybeDuplicated: (output, count, reason) => metrics.hecMaybeDuplicated.inc({ output, reason }, count),
      onEsAlreadyIndexed: (output, count) => metrics.esAlreadyIndexed.inc({ output }, count),
      onSyslogReconnect: (output) => metrics.syslogReconnects.inc({ output }),
      onSyslogTruncated: (output, count) => metrics.syslogTruncated.inc({ output }, count),
    });
    stopHangup = reopenOnHangup(outputs, logger, store, () => reopenLogFile(logger));
    if (config.metrics) {
      const { listen, token, max_connections } = config.metrics;
      const exposure = exposureWarning(listen, token);
      if (exposure !== undefined) logger.warn(exposure);
      server = await startOpsServer(
        listen,
        metrics.registry,
        () =>
          healthReport({
            state: store.data,
            accounts,
            outputs: outputs.map((o) => o.name),
            alertLagMs: config.daemon.alert_lag,
            nowMs: clock.now(),
            startedAtMs: startedAt,
          }),
        { token, maxConnections: max_connections },
      );
      logger.info(`metrics and health on http://${config.metrics.listen.host}:${server.port}/metrics and /healthz`);
    }
    // node-cron's own logger would warn at every skipped tick; its words go to debug (overlaps: once, above).
    const cronLogger = {
      info: (message: string) => logger.debug(`node-cron: ${message}`),
      warn: (message: string) => {
        if (!/overlap/i.test(message)) logger.debug(`node-cron: ${message}`);
      },
      error: (message: string | Error) =>
        logger.error(`node-cron: ${message instanceof Error ? message.message : message}`),
      debug: (message: string | Error) =>
        logger.debug(`node-cron: ${message instanceof Error ? message.message : message}`),
    };
    const task = schedule(config.poll.schedule, () => runPoll(), {
      noOverlap: true,
      name: 'cf-access-shipper poll',
      logger: cronLogger,
    });
    task.on('execution:overlap', () => {
      if (!overlapLogged)
        logger.debug(
          'the previous poll is still running at the next tick; skipping it (said once: polls slower than the schedule are normal during catch-up)',
        );
      overlapLogged = true;
    });
    logger.info(
      `running: ${accounts.length} account(s) → ${outputs.map((o) => o.name).join(', ')}, schedule "${config.poll.schedule}"`,
    );
    receiver = await startPushReceiver(
      config,
      outputs,
      store,
      logger,
      clock,
      (endpoint, result) => metrics.recordPush(endpoint, result),
      windows,
    );
    const pushing = receiver;
    const reloadTls = (): void => {
      try {
        pushing?.reloadTls();
      } catch (error) {
        logger.error(`SIGHUP: cannot reload push.tls: ${(error as Error).message}; the old certificate stays`);
      }
    };
    if (config.push?.tls) process.on('SIGHUP', reloadTls);
    options.onReady?.({
      ...(server ? { metricsPort: server.port } : {}),
      ...(receiver ? { pushPort: receiver.port } : {}),
    });
    void runPoll();
    const signal = await stopRequested;
    await task.stop();
    await task.destroy();
    process.off('SIGHUP', reloadTls);
    // No new push; those being received finish (confirmed, 200) before the outputs close.
    const receiverStopped = receiver?.stop(config.daemon.shutdown_timeout);
    abort.abort(new Error(`stopping on ${signal}`));
    const inFlight = Promise.all([running, services.catchUps.idle(), receiverStopped]);
    const stopWaiting = new AbortController();
    const timedOut = await Promise.race([
      inFlight.then(() => false),
      clock.sleep(config.daemon.shutdown_timeout, stopWaiting.signal).then(
        () => true,
        () => false,
      ),
    ]);
    stopWaiting.abort();
    if (timedOut) {
      logger.error(
        `shutdown_timeout (${formatDuration(config.daemon.shutdown_timeout)}) passed with batches unconfirmed; exiting without committing them (they are sent again at the next start)`,
      );
      exitCode = 1;
      // Waits are cancelled: the lanes settle at once, saving what was confirmed, and outputs close.
      cancelDeliveries.abort();
      const settled = await Promise.race([inFlight.then(() => true), clock.sleep(5000).then(() => false)]);
      if (settled) cleanAfterTimeout = true;
    }
  } finally {
    await receiver?.stop(1000);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    stopHangup();
    if (exitCode === 0 || cleanAfterTimeout) await closeOutputs(outputs, logger);
    client.close();
    await server?.close();
    if (exitCode === 0 || cleanAfterTimeout) await store.close();
    else store.releaseLockNow();
  }
  logger.info(exitCode === 0 ? 'stopped cleanly' : 'stopped with unconfirmed batches');
  return exitCode;
}
