/** Starts the Logpush receiver of `run` on the daemon's outputs and state (config `push`). */
import { dirname, join } from 'node:path';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { DATASETS } from '../datasets/index.js';
import type { Logger } from '../logging.js';
import { SharedArrivals } from '../push/arrivals.js';
import { PushReceiver, type PushResult } from '../push/receiver.js';
import { appendDurably, deadLetterPath, writeDeadLetters } from '../sink/dead-letter.js';
import { buildFormatter } from '../sink/factory.js';
import type { OutputRuntime } from '../sink/output-runtime.js';
import type { StateStore } from '../state/store.js';

export async function startPushReceiver(
  config: Config,
  outputs: readonly OutputRuntime[],
  store: StateStore,
  logger: Logger,
  clock: Clock,
  onPush?: (endpoint: string, result: PushResult) => void,
  arrivals?: SharedArrivals,
): Promise<PushReceiver | undefined> {
  const push = config.push;
  if (!push) return undefined;
  const byName = new Map(config.outputs.map((o) => [o.name, o]));
  const receiver = new PushReceiver({
    config: push,
    datasets: DATASETS,
    arrivals,
    logger,
    clock,
    outputs: outputs.map((runtime) => {
      const output = byName.get(runtime.name);
      if (!output) throw new Error(`output ${runtime.name} has no configuration`);
      return {
        name: runtime.name,
        sink: runtime.sink,
        formatterFor: (dataset) => buildFormatter(output, config, dataset),
        sourcetypeFor: (dataset) => (output.type === 'splunk_hec' ? dataset.sourcetype(output.format) : undefined),
      };
    }),
    commit: async () => {
      for (const output of outputs) {
        const position = output.sink.position();
        if (position) store.data.sinks[output.name] = position;
      }
      await store.save();
    },
    deadLetter: (output, rejected) =>
      writeDeadLetters(deadLetterPath(store.path, output), output, rejected, clock.now()),
    // Fsynced like the outputs' dead letters: the push gets 200, so Logpush never sends these again.
    badLines: (endpoint, lines) => {
      const at = new Date(clock.now()).toISOString();
      const text = lines.map((l) => JSON.stringify({ at, endpoint, line: l.number, reason: l.reason, text: l.text }));
      return appendDurably(join(dirname(store.path), 'dead-letter', `push-${endpoint}.ndjson`), text.join('\n'));
    },
    ...(onPush ? { onPush } : {}),
  });
  const port = await receiver.start();
  const scheme = push.tls ? 'https' : 'http';
  logger.info(
    `Logpush receiver on ${scheme}://${push.listen.host}:${port}: ${push.endpoints.map((e) => `${e.path} (${e.dataset})`).join(', ')}`,
  );
  if (!push.tls)
    logger.warn(
      'push.tls is not set: Logpush only pushes to HTTPS; terminate TLS in front of this port (a reverse proxy), or set push.tls',
    );
  return receiver;
}

/**
 * The windows poll and receiver share (push/arrivals.ts): for each polled account a push endpoint
 * names (`account_id`) with a dataset both polled and pushed. Undefined when there is none.
 */
export function sharedArrivals(config: Config, polled: readonly string[]): SharedArrivals | undefined {
  const push = config.push;
  if (!push) return undefined;
  const accounts = push.endpoints
    .filter((e) => DATASETS[e.dataset]?.sharedIdentity !== undefined && e.account_id !== undefined)
    .map((e) => e.account_id as string)
    .filter((account) => polled.includes(account));
  return accounts.length > 0 ? new SharedArrivals(push.dedup_window, accounts) : undefined;
}
