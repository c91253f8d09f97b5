/** `convert`: Cloudflare events from a file or stdin to formatted records on stdout. */
import type { Writable } from 'node:stream';
import { DEFAULT_FORMAT_CONFIG, formatterOptions } from '../config/formatter.js';
import type { FormatConfig } from '../config/schema.js';
import { parseFacility } from '../format/syslog.js';
import { UsageError } from '../errors.js';
import { type MessageFormat, MESSAGE_FORMATS, RECORD_FORMATS, type RecordFormat } from '../format/index.js';
import { recordFormatter } from '../datasets/formatters.js';
import { POLLED } from '../datasets/index.js';
import { readEventBatches } from '../source/event-reader.js';
import { BufferedWriter } from './buffered-writer.js';
import { inputChunks } from './input-chunks.js';

export interface ConvertOptions {
  format: string;
  message: string;
  input?: string | undefined;
  facility?: string | undefined;
  appName?: string | undefined;
  hostname?: string | undefined;
  structuredData?: boolean | undefined;
  accountId?: string | undefined;
  /** The `format` section of a config file, when --config was given. */
  formatConfig?: FormatConfig | undefined;
}

export interface ConvertResult {
  events: number;
  skipped: number;
}

export async function convert(
  options: ConvertOptions,
  io: { stdin: NodeJS.ReadableStream; stdout: Writable; stderr: Writable },
): Promise<ConvertResult> {
  const format = options.format as RecordFormat;
  if (!RECORD_FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${RECORD_FORMATS.join(', ')}; got "${options.format}"`);
  const message = options.message as MessageFormat;
  if (!MESSAGE_FORMATS.includes(message))
    throw new UsageError(`--message must be one of ${MESSAGE_FORMATS.join(', ')}; got "${options.message}"`);
  let facility: number | undefined;
  if (options.facility !== undefined) {
    facility = parseFacility(options.facility);
    if (facility === undefined)
      throw new UsageError(
        `--facility must be a facility name (e.g. local0, auth, authpriv) or a number 0–23; got "${options.facility}"`,
      );
  }
  const formatter = recordFormatter(
    POLLED,
    format,
    formatterOptions(options.formatConfig ?? DEFAULT_FORMAT_CONFIG, {
      facility,
      app_name: options.appName,
      hostname: options.hostname,
      structured_data: options.structuredData,
    }),
    message,
  );
  const context = { accountId: options.accountId, plainValues: false };
  const input = inputChunks(options.input, io.stdin);
  const out = new BufferedWriter(io.stdout);
  const result: ConvertResult = { events: 0, skipped: 0 };
  for await (const batch of readEventBatches(input)) {
    for (const item of batch) {
      if (item.kind === 'event') {
        context.plainValues = item.plain;
        out.add(formatter(item.event, context));
        result.events++;
      } else {
        result.skipped++;
        io.stderr.write(`line ${item.line}: skipped: ${item.message}\n`);
      }
    }
    await out.flushIfFull();
  }
  await out.close();
  return result;
}
