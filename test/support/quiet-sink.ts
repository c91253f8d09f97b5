/** The parts of a Sink a test or bench output does not care about: no position, nothing to open or close. */
import type { DeliveryResult, OutputRecord, Sink } from '../../src/sink/types.js';

export abstract class QuietSink implements Sink {
  readonly exactlyOnce: boolean = false;
  abstract readonly name: string;
  abstract readonly concurrency: number;
  abstract deliver(records: readonly OutputRecord[], signal?: AbortSignal): Promise<DeliveryResult>;
  open(): Promise<void> {
    return Promise.resolve();
  }
  position(): undefined {
    return undefined;
  }
  reopen(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
