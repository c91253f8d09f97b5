/**
 * Reader workers for the receiver: a body's chunks go to a worker (reader-worker.ts) and come
 * back as prepared slices, so gunzip, JSON.parse and hashing run beside the thread that dedups,
 * formats and writes. One worker per push being received, kept for the next; a worker that
 * fails or is left part way through a body is ended and replaced by a new one.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BodyError } from './body.js';
import type { FromReader, ToReader } from './reader-protocol.js';
import { decodeSlice } from './slice-message.js';
import { type SliceItem, type SliceOptions, VALIDATION } from './slices.js';

/** Body chunks sent to a worker and not yet taken by its reader. */
const CHUNKS_AHEAD = 4;

/** A reader worker died or failed: the push is answered 503 (Logpush sends it again). */
export class ReaderFailedError extends Error {
  readonly code = 'ERR_PUSH_READER';
  constructor(message: string, options?: { cause?: unknown }) {
    super(`the reader worker failed: ${message}`, options);
    this.name = 'ReaderFailedError';
  }
}

const fromSources = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSources ? './reader-worker.ts' : './reader-worker.js', import.meta.url);

/** Run from the TypeScript sources (tests, tsx), a worker registers tsx itself: its hooks stay in their thread. */
function newWorker(script: URL): Worker {
  if (!script.pathname.endsWith('.ts')) return new Worker(script);
  // tsx's ESM API (the file its "import" condition names; this module may itself run as CommonJS under mocha).
  const tsx = new URL(
    'dist/esm/api/index.mjs',
    pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json')),
  ).href;
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(script.href)}); });`;
  return new Worker(boot, { eval: true });
}

export class ReaderPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Set<Worker>();

  /** Workers started so far (each replaced one counts). */
  started = 0;

  /** `script`: the worker's module (tests give one that fails). */
  constructor(
    private readonly maxIdle: number,
    private readonly script: URL = workerUrl,
  ) {}

  private acquire(): Worker {
    let worker = this.idle.pop();
    if (!worker) {
      worker = newWorker(this.script);
      this.started++;
    }
    // The receiver's server keeps the process up; a worker should not keep it up on its own.
    worker.unref();
    this.busy.add(worker);
    return worker;
  }

  private release(worker: Worker, healthy: boolean): void {
    this.busy.delete(worker);
    if (healthy && this.idle.length < this.maxIdle) this.idle.push(worker);
    else void worker.terminate();
  }

  async close(): Promise<void> {
    const all = [...this.idle, ...this.busy];
    this.idle.length = 0;
    this.busy.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }

  /** The body's slices, read in a worker; the same items as bodySlices() in this thread. */
  async *slices(body: AsyncIterable<Buffer>, options: SliceOptions): AsyncGenerator<SliceItem> {
    const worker = this.acquire();
    const inbox: FromReader[] = [];
    // Set by the worker's events and the pump while this generator waits.
    const state: { failure?: Error; stopped: boolean } = { stopped: false };
    let wake: (() => void) | undefined;
    let ahead = 0;
    let taken: (() => void) | undefined;
    const onMessage = (message: FromReader): void => {
      if (message.type === 'taken') {
        ahead--;
        taken?.();
        return;
      }
      inbox.push(message);
      wake?.();
    };
    const onError = (error: Error): void => {
      state.failure ??= new ReaderFailedError(error.message, { cause: error });
      wake?.();
    };
    const onExit = (code: number): void => onError(new Error(`exited with code ${code}`));
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    const send = (message: ToReader): void => worker.postMessage(message);
    let clean = false;
    const pump = async (): Promise<void> => {
      // Not for-await: leaving that loop would destroy the request, and a refused body is still answered.
      const iterator = body[Symbol.asyncIterator]();
      for (;;) {
        while (ahead >= CHUNKS_AHEAD && !state.stopped) await new Promise<void>((resolve) => (taken = resolve));
        if (state.stopped) return;
        const next = await iterator.next();
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by `finally` during the await
        if (state.stopped) return;
        if (next.done === true) return send({ type: 'end' });
        ahead++;
        send({ type: 'chunk', chunk: next.value });
      }
    };
    try {
      const { dataset, shared, contentEncoding, limits, sliceEvents } = options;
      send({ type: 'start', dataset: dataset.name, shared, contentEncoding, limits, sliceEvents });
      pump().catch((error: unknown) => {
        state.failure ??= error instanceof Error ? error : new Error(String(error));
        wake?.();
      });
      for (;;) {
        const message = inbox.shift();
        if (message === undefined) {
          if (state.failure) throw state.failure;
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        switch (message.type) {
          case 'slice':
            send({ type: 'more' });
            yield decodeSlice(message.slice, dataset);
            break;
          case 'validation':
            clean = true;
            yield VALIDATION;
            return;
          case 'done':
            clean = true;
            return;
          case 'refused':
            clean = true;
            throw new BodyError(message.status, message.code, message.message);
          case 'failed':
            throw new ReaderFailedError(message.message);
          case 'taken':
            break;
        }
      }
    } finally {
      state.stopped = true;
      taken?.();
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      this.release(worker, clean);
    }
  }
}
