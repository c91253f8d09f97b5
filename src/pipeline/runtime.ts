/**
 * What `run --once` and `backfill` share: state, rate limiter (with its persisted cooldown),
 * the Cloudflare client and the outputs, opened and closed in the right order.
 */
import type { Config } from '../config/schema.js';
import { cloudflareRoute } from '../config/proxies.js';
import { POLLED } from '../datasets/index.js';
import { describeRoute } from '../net/proxy.js';
import { ShipperError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { buildOutputs, type SinkHooks } from '../sink/factory.js';
import { CloudflareClient, type CloudflareAuth } from '../source/cloudflare-client.js';
import { RateLimiter } from '../source/rate-limiter.js';
import { type Clock, realClock } from '../clock.js';
import type { StateHolder, StateStore } from '../state/store.js';
import type { StateData } from '../state/schema.js';
import { VERSION } from '../version.js';
import type { OutputRuntime } from '../sink/output-runtime.js';

export function cloudflareAuth(config: Config): CloudflareAuth {
  const cf = config.cloudflare;
  if (cf.api_token !== undefined) return { kind: 'token', token: cf.api_token };
  if (cf.auth_key !== undefined && cf.auth_email !== undefined)
    return { kind: 'key', email: cf.auth_email, key: cf.auth_key };
  throw new ShipperError('ERR_CONFIG', 'no Cloudflare credentials configured', { exitCode: 78 });
}

/** A limiter whose cooldowns are saved in `store`, starting with the one a previous run saved. */
export function persistentLimiter(
  config: Config,
  store: StateHolder,
  logger: Logger,
  clock: Clock = realClock,
  alsoRespect?: StateData,
): RateLimiter {
  const limiter = new RateLimiter({
    requests: config.cloudflare.rate_limit.requests,
    perMs: config.cloudflare.rate_limit.per,
    clock,
    onCooldown: (untilMs, reason) => {
      logger.warn(`Cloudflare rate limit: ${reason}; every API call waits until ${new Date(untilMs).toISOString()}`);
      store.data.api = { cooldown_until: new Date(untilMs).toISOString(), cooldown_reason: reason };
      store.save().catch((error: unknown) => {
        logger.error(`cannot save the cooldown to the state: ${(error as Error).message}`);
      });
    },
  });
  for (const api of [store.data.api, alsoRespect?.api]) {
    const saved = api?.cooldown_until === undefined ? NaN : Date.parse(api.cooldown_until);
    if (saved > clock.now() && saved > limiter.cooldownEndsAt) {
      logger.warn(
        `a previous run hit the Cloudflare rate limit; waiting until ${new Date(saved).toISOString()} before calling the API`,
      );
      limiter.coolDown(saved, api?.cooldown_reason ?? 'saved cooldown');
    }
  }
  return limiter;
}

export function createClient(
  config: Config,
  limiter: RateLimiter,
  logger: Logger,
  clock: Clock = realClock,
  onResponse?: (status: number) => void,
): CloudflareClient {
  const route = cloudflareRoute(config);
  if (route.kind === 'proxy')
    logger.info(`Cloudflare API ${new URL(config.cloudflare.base_url).origin} ${describeRoute(route)}`);
  return new CloudflareClient({
    ...(onResponse ? { onResponse } : {}),
    baseUrl: config.cloudflare.base_url,
    auth: cloudflareAuth(config),
    requestTimeoutMs: config.cloudflare.request_timeout,
    proxy: route,
    limiter,
    clock,
    userAgent: `cf-access-shipper/${VERSION}`,
    onRetry: ({ account, attempt, delayMs, reason }) => {
      logger.warn(
        `Cloudflare API, account ${account}: ${reason}; retry ${attempt} in ${Math.round(delayMs / 100) / 10} s`,
        { account },
      );
    },
  });
}

export async function openOutputs(
  config: Config,
  store: StateStore,
  logger: Logger,
  only?: readonly string[],
  hooks?: SinkHooks,
): Promise<OutputRuntime[]> {
  const outputs = buildOutputs(config, POLLED, logger, only, hooks, store.path);
  const opened: OutputRuntime[] = [];
  try {
    let changed = false;
    for (const output of outputs) {
      await output.sink.open(store.data.sinks[output.name]);
      opened.push(output);
      // A file output's starting length is saved before its first write, so a crash during that
      // write is cut back on restart like any other unconfirmed batch.
      const position = output.sink.position();
      if (position && store.data.sinks[output.name] === undefined) {
        store.data.sinks[output.name] = position;
        changed = true;
      }
    }
    if (changed) await store.save();
  } catch (error) {
    await closeOutputs(opened, logger);
    throw error;
  }
  return outputs;
}

export async function closeOutputs(outputs: readonly OutputRuntime[], logger: Logger): Promise<void> {
  for (const output of outputs) {
    try {
      await output.sink.close();
    } catch (error) {
      logger.error(`output ${output.name}: close failed: ${(error as Error).message}`, { output: output.name });
    }
  }
}

/**
 * SIGHUP reopens file outputs (logrotate) and runs `alsoReopen` (the daemon's log file); returns
 * a function that removes the handler.
 */
export function reopenOnHangup(
  outputs: readonly OutputRuntime[],
  logger: Logger,
  store?: StateHolder,
  alsoReopen?: () => void,
): () => void {
  const handler = (): void => {
    logger.info(alsoReopen ? 'SIGHUP: reopening file outputs and the log file' : 'SIGHUP: reopening file outputs');
    alsoReopen?.();
    for (const output of outputs) {
      output.sink
        .reopen()
        .then(async () => {
          // The new file's start is the position to cut back to if we crash before the next commit.
          const position = output.sink.position();
          if (position && store) {
            store.data.sinks[output.name] = position;
            await store.save();
          }
        })
        .catch((error: unknown) => {
          logger.error(`output ${output.name}: reopen failed: ${(error as Error).message}`, { output: output.name });
        });
    }
  };
  process.on('SIGHUP', handler);
  return () => process.off('SIGHUP', handler);
}
