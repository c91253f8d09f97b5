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
/** Busy answers not counted as failed attempts, per batch (then they count like any failure). */
const MAX_BUSY_RETRIES = 30;

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
  // Busy answers do not count either: an indexer that says "busy" is up (one in ten answers is
  // normal under load), and counting them let a short outage plus one busy answer fail a backfill.
  let busyFree = MAX_BUSY_RETRIES;
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    const result = await output.sink.deliver(records, options.cancel);
    if (result.status === 'delivered') return { status: 'delivered', rejected: result.rejected ?? [] };
    if (result.status === 'fatal') {
      options.logger.error(`output ${output.name} stopped: ${result.error.message}`, { output: output.name });
      return { status: 'failed', error: result.error, fatal: true };
    }
    lastError = result.error;
    const progressed = result.progressed === true && free > 0;
    const busy = !progressed && result.busy === true && busyFree > 0;
    const counted = !progressed && !busy;
    if (progressed) free--;
    if (busy) busyFree--;
    if ((counted && attempt + 1 >= options.attempts) || options.signal?.aborted) break;
    const delay = Math.max(result.retryAfterMs ?? 0, options.backoff(progressed ? 0 : attempt));
    const which = counted
      ? `retry ${attempt + 1}/${options.attempts - 1}`
      : progressed
        ? 'part of the batch got through; retrying the rest'
        : 'the peer is busy; retrying (not counted as a failed attempt)';
    options.logger.warn(
      `output ${output.name}: delivery failed (${result.error.message}); ${which} in ${Math.round(delay / 100) / 10} s`,
      { output: output.name },
    );
    try {
      await options.clock.sleep(delay, options.signal);
    } catch {
      break; // shutting down
    }
    if (progressed) attempt = -1;
    else if (busy) attempt--;
  }
  return { status: 'failed', error: lastError, fatal: false };
}
