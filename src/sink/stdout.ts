/** Records to standard output. Delivered once the write has been handed to the OS. */
import type { Writable } from 'node:stream';
import type { DeliveryResult, OutputRecord, Sink } from './types.js';

export class StdoutSink implements Sink {
  readonly concurrency = 1;
  readonly exactlyOnce = false;

  constructor(
    readonly name: string,
    private readonly stream: Writable = process.stdout,
  ) {}

  open(): Promise<void> {
    return Promise.resolve();
  }

  deliver(records: readonly OutputRecord[]): Promise<DeliveryResult> {
    if (records.length === 0) return Promise.resolve({ status: 'delivered' });
    let text = '';
    for (const record of records) text += `${record.text}\n`;
    return new Promise((resolve) => {
      this.stream.write(text, (error) => {
        resolve(error ? { status: 'retry', error } : { status: 'delivered' });
      });
    });
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
