/**
 * A reader worker: gunzips, splits, parses, times and hashes push bodies off the receiver's
 * thread, and posts their slices as columns (slice-message.ts). One body at a time; the receiver
 * sends its chunks a few at a time and takes its slices one at a time, so both sides stay bounded.
 */
import { parentPort } from 'node:worker_threads';
import { DATASETS } from '../datasets/index.js';
import { BodyError } from './body.js';
import type { FromReader, ToReader } from './reader-protocol.js';
import { encodeSlice } from './slice-message.js';
import { bodySlices, VALIDATION } from './slices.js';

const port = parentPort;
if (!port) throw new Error('reader-worker.ts runs as a worker thread');
const post = (message: FromReader): void => port.postMessage(message);

/** Body chunks as an async iterable; each one handed to the reader is reported taken. */
class Chunks implements AsyncIterable<Buffer> {
  private readonly queue: Buffer[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  push(chunk: Buffer): void {
    this.queue.push(chunk);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk !== undefined) {
        post({ type: 'taken' });
        yield chunk;
      } else if (this.ended) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/** Slices posted and not yet taken by the receiver: enough to keep reading through an output's fsync. */
const SLICES_AHEAD = 4;

let chunks = new Chunks();
let credits = 0;
let credited: (() => void) | undefined;

async function read(start: Extract<ToReader, { type: 'start' }>): Promise<void> {
  const dataset = DATASETS[start.dataset];
  if (!dataset) return post({ type: 'failed', message: `no dataset ${start.dataset}` });
  credits = SLICES_AHEAD;
  try {
    for await (const item of bodySlices(chunks, { ...start, dataset, identify: false })) {
      // The last item of its body (nothing follows it, not even 'done').
      if (item === VALIDATION) return post({ type: 'validation' });
      while (credits === 0) await new Promise<void>((resolve) => (credited = resolve));
      credits--;
      post({ type: 'slice', slice: encodeSlice(item, dataset) });
    }
    post({ type: 'done' });
  } catch (error) {
    if (error instanceof BodyError)
      post({ type: 'refused', status: error.status, code: error.code, message: error.message });
    else post({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  }
}

port.on('message', (message: ToReader) => {
  switch (message.type) {
    case 'start':
      // Chunks of a body refused part way arrive after its end and go with the old queue.
      chunks = new Chunks();
      void read(message);
      break;
    case 'chunk':
      chunks.push(Buffer.from(message.chunk.buffer, message.chunk.byteOffset, message.chunk.byteLength));
      break;
    case 'end':
      chunks.end();
      break;
    case 'more':
      credits++;
      credited?.();
      break;
  }
});
