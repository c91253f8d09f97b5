/** Builds an output's formatter from a dataset's mappings and a format. Pure functions. */
import type { Formatter, FormatterOptions, MessageFormat, RecordFormat } from '../format/index.js';
import type { EventRecord } from '../format/record.js';
import { formatRfc3164, formatRfc5424 } from '../format/syslog.js';
import type { Dataset } from './dataset.js';

export function messageFormatter<E extends EventRecord>(
  dataset: Dataset<E>,
  format: MessageFormat,
  options: FormatterOptions,
): Formatter<E> {
  switch (format) {
    case 'cef':
      return dataset.cef(options.cef);
    case 'json':
      return dataset.json;
    case 'ecs':
      return dataset.ecs(options.ecs);
  }
}

/**
 * A record formatter. `rfc5424` and `rfc3164` wrap `message` (CEF by default) in the syslog
 * header; the others are the message itself.
 */
export function recordFormatter<E extends EventRecord>(
  dataset: Dataset<E>,
  format: RecordFormat,
  options: FormatterOptions,
  message: MessageFormat = 'cef',
): Formatter<E> {
  if (format === 'rfc5424' || format === 'rfc3164') {
    const inner = messageFormatter(dataset, message, options);
    const wrap = format === 'rfc5424' ? formatRfc5424 : formatRfc3164;
    return (event, context) => wrap(event, context, inner(event, context), options.syslog, dataset.syslog);
  }
  return messageFormatter(dataset, format, options);
}
