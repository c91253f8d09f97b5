/**
 * The formats every dataset is written in, and their options. Each dataset maps its events into
 * them (datasets/<name>/); datasets/formatters.ts builds an output's formatter from the two.
 */
import type { CefOptions } from './cef.js';
import type { EcsOptions } from './ecs.js';
import type { EventContext, EventRecord } from './record.js';
import type { SyslogOptions } from './syslog.js';

export type MessageFormat = 'cef' | 'json' | 'ecs';
export type RecordFormat = MessageFormat | 'rfc5424' | 'rfc3164';
export const RECORD_FORMATS: readonly RecordFormat[] = ['cef', 'json', 'ecs', 'rfc5424', 'rfc3164'];
export const MESSAGE_FORMATS: readonly MessageFormat[] = ['cef', 'json', 'ecs'];

/** Event in, one line out. Pure. */
export type Formatter<E extends EventRecord = EventRecord> = (event: E, context: EventContext) => string;

export interface FormatterOptions {
  cef: CefOptions;
  ecs: EcsOptions;
  syslog: SyslogOptions;
}
