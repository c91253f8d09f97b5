/** The messages between the receiver and a reader worker (reader-worker.ts, reader-pool.ts). */
import type { BodyError, BodyLimits } from './body.js';
import type { SliceMessage } from './slice-message.js';

export type ToReader =
  | {
      type: 'start';
      /** A name of datasets/index.ts (the worker imports the datasets itself: functions do not cross). */
      dataset: string;
      shared: boolean;
      contentEncoding: string | undefined;
      limits: BodyLimits;
      sliceEvents: number;
    }
  | { type: 'chunk'; chunk: Uint8Array }
  | { type: 'end' }
  /** The receiver took a slice: the worker may post one more (it is one slice ahead at most). */
  | { type: 'more' };

export type FromReader =
  /** A body chunk was taken by the reader: the receiver may send one more. */
  | { type: 'taken' }
  | { type: 'slice'; slice: SliceMessage }
  /** The body was the validation upload; the last message of the body. */
  | { type: 'validation' }
  | { type: 'done' }
  /** A BodyError: the status and code the receiver answers with. */
  | { type: 'refused'; status: BodyError['status']; code: BodyError['code']; message: string }
  | { type: 'failed'; message: string };
