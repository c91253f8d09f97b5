/**
 * Builds a formatter (event → one record line) from a format description. Formatters are pure
 * functions of the event, its context and these options.
 */
import type { AccessEvent, EventContext } from './event.js';
import { type CefOptions, cefFormatter } from './cef.js';
import { formatEcs } from './ecs.js';
import { formatJson } from './json.js';
import { type SyslogOptions, formatRfc3164, formatRfc5424 } from './syslog.js';

export type MessageFormat = 'cef' | 'json' | 'ecs';
export type RecordFormat = MessageFormat | 'rfc5424' | 'rfc3164';
export const RECORD_FORMATS: readonly RecordFormat[] = ['cef', 'json', 'ecs', 'rfc5424', 'rfc3164'];
export const MESSAGE_FORMATS: readonly MessageFormat[] = ['cef', 'json', 'ecs'];

export type Formatter = (event: AccessEvent, context: EventContext) => string;

export interface FormatterOptions {
  cef: CefOptions;
  ecs: { includeOriginal: boolean };
  syslog: SyslogOptions;
}

export function messageFormatter(format: MessageFormat, options: FormatterOptions): Formatter {
  switch (format) {
    case 'cef':
      return cefFormatter(options.cef);
    case 'json':
      return formatJson;
    case 'ecs':
      return (event, context) => formatEcs(event, context, options.ecs);
  }
}

/**
 * A record formatter. `rfc5424` and `rfc3164` wrap `message` (CEF by default) in the syslog
 * header; the others are the message itself.
 */
export function recordFormatter(
  format: RecordFormat,
  options: FormatterOptions,
  message: MessageFormat = 'cef',
): Formatter {
  if (format === 'rfc5424' || format === 'rfc3164') {
    const inner = messageFormatter(message, options);
    const wrap = format === 'rfc5424' ? formatRfc5424 : formatRfc3164;
    return (event, context) => wrap(event, context, inner(event, context), options.syslog);
  }
  return messageFormatter(format, options);
}
