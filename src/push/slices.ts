/**
 * A push body as prepared slices: lines read by body.ts, parsed, timed and identified in slices of
 * `sliceEvents`. The same generator runs in the receiver's thread or in a reader worker
 * (reader-worker.ts), so both paths read a body alike.
 */
import type { Dataset } from '../datasets/dataset.js';
import { type BodyLimits, type BodyLine, bodyLineBatches, isValidationUpload } from './body.js';
import { type PreparedSlice, prepareSlice } from './pushed-record.js';

/** The body was Logpush's validation upload: answered 200, shipped nowhere. */
export const VALIDATION = 'validation';

export type SliceItem = PreparedSlice | typeof VALIDATION;

export interface SliceOptions {
  dataset: Dataset;
  /** The endpoint's windows are shared with polling (events are known by `sharedIdentity`). */
  shared: boolean;
  contentEncoding: string | undefined;
  limits: BodyLimits;
  sliceEvents: number;
  /** False: identities read from the line are left to the receiving thread (a reader worker's slices). */
  identify?: boolean;
}

/** The body's slices, in order; a body of one line that is the validation upload yields VALIDATION. */
export async function* bodySlices(body: AsyncIterable<Buffer>, options: SliceOptions): AsyncGenerator<SliceItem> {
  const { dataset, shared } = options;
  // The first slice waits for a second line: a body of one line may be the validation upload.
  const size = Math.max(2, options.sliceEvents);
  let slice: BodyLine[] = [];
  let seen = 0;
  for await (const lines of bodyLineBatches(body, options.contentEncoding, options.limits)) {
    for (const line of lines) {
      seen++;
      slice.push(line);
      if (slice.length >= size) {
        yield prepareSlice(dataset, slice, shared, options.identify);
        slice = [];
      }
    }
  }
  if (seen === 1 && isValidationUpload(slice)) {
    yield VALIDATION;
    return;
  }
  if (slice.length > 0) yield prepareSlice(dataset, slice, shared, options.identify);
}
