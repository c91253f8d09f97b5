/** Offers a batch to an output until it is delivered, rejected for good, or attempts run out. */
import type { Logger } from '../logging.js';
import type { Clock } from '../clock.js';
import type { OutputRecord, RejectedRecord, Sink } from './types.js';

export interface DeliverOptions {
  attempts: number;
  clock: Clock;
  logger: Logger;
  backoff: (attempt: number) => number;
  /** Stops retrying (the process is stopping). */
  signal?: AbortSignal | undefined;
  /** Cancels what a delivery is waiting for (acknowledgements): the shutdown deadline passed. */
  cancel?: AbortSignal | undefined;
}

const MAX_PROGRESS_RETRIES = 100;

export type DeliverOutcome =
  { status: 'delivered'; rejected: RejectedRecord[] } | { status: 'failed'; error: Error; fatal: boolean };

export async function deliverWithRetry(
  output: { name: string; sink: Sink },
  records: readonly OutputRecord[],
  options: DeliverOptions,
): Promise<DeliverOutcome> {
  let lastError: Error = new Error('no attempt made');
  // Attempts that got part of the batch through do not count: a busy peer that takes a little
  // each time is slow, not down. Bounded, so a peer that never takes the rest still fails the batch.
  let free = MAX_PROGRESS_RETRIES;
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    const result = await output.sink.deliver(records, options.cancel);
    if (result.status === 'delivered') return { status: 'delivered', rejected: result.rejected ?? [] };
    if (result.status === 'fatal') {
      options.logger.error(`output ${output.name} stopped: ${result.error.message}`, { output: output.name });
      return { status: 'failed', error: result.error, fatal: true };
    }
    lastError = result.error;
    const counted = !(result.progressed === true && free > 0);
    if (!counted) free--;
    if ((counted && attempt + 1 >= options.attempts) || options.signal?.aborted) break;
    const delay = Math.max(result.retryAfterMs ?? 0, options.backoff(counted ? attempt : 0));
    const which = counted
      ? `retry ${attempt + 1}/${options.attempts - 1}`
      : 'part of the batch got through; retrying the rest';
    options.logger.warn(
      `output ${output.name}: delivery failed (${result.error.message}); ${which} in ${Math.round(delay / 100) / 10} s`,
      { output: output.name },
    );
    try {
      await options.clock.sleep(delay, options.signal);
    } catch {
      break; // shutting down
    }
    if (!counted) attempt = -1;
  }
  return { status: 'failed', error: lastError, fatal: false };
}
