/** Offers a batch to an output until it is delivered, rejected for good, or attempts run out. */
import type { Logger } from '../ops/logger.js';
import type { Clock } from '../source/rate-limiter.js';
import type { OutputRecord, RejectedRecord, Sink } from '../sink/types.js';

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

export type DeliverOutcome = { status: 'delivered'; rejected: RejectedRecord[] } | { status: 'failed'; error: Error; fatal: boolean };

export async function deliverWithRetry(output: { name: string; sink: Sink }, records: readonly OutputRecord[], options: DeliverOptions): Promise<DeliverOutcome> {
  let lastError: Error = new Error('no attempt made');
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    const result = await output.sink.deliver(records, options.cancel);
    if (result.status === 'delivered') return { status: 'delivered', rejected: result.rejected ?? [] };
    if (result.status === 'fatal') {
      options.logger.error(`output ${output.name} stopped: ${result.error.message}`, { output: output.name });
      return { status: 'failed', error: result.error, fatal: true };
    }
    lastError = result.error;
    if (attempt + 1 >= options.attempts || options.signal?.aborted) break;
    const delay = Math.max(result.retryAfterMs ?? 0, options.backoff(attempt));
    options.logger.warn(`output ${output.name}: delivery failed (${result.error.message}); retry ${attempt + 1}/${options.attempts - 1} in ${Math.round(delay / 100) / 10} s`, { output: output.name });
    try {
      await options.clock.sleep(delay, options.signal);
    } catch {
      break; // shutting down
    }
  }
  return { status: 'failed', error: lastError, fatal: false };
}
