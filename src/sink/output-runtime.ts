/** A configured output as the pipeline runs it: its sink and the formatter of its records. */
import type { EventRecord } from '../format/record.js';
import type { Sink } from './types.js';

export interface OutputRuntime {
  name: string;
  sink: Sink;
  format: (event: EventRecord, context: { accountId?: string; epochMs?: number }) => string;
}
