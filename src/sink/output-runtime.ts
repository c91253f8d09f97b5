/** A configured output as the pipeline runs it: its sink and the formatter of its records. */
import type { AccessEvent } from '../format/event.js';
import type { Sink } from './types.js';

export interface OutputRuntime {
  name: string;
  sink: Sink;
  format: (event: AccessEvent, context: { accountId?: string; epochMs?: number }) => string;
}
