/** Builds the running outputs from configuration (Vector-style: config is data). */
import type { Config } from '../config/schema.js';
import type { OutputConfig } from '../config/outputs.js';
import { formatterOptions } from '../config/formatter.js';
import { recordFormatter } from '../format/index.js';
import type { Logger } from '../ops/logger.js';
import type { OutputRuntime } from '../pipeline/poll.js';
import { ShipperError } from '../errors.js';
import { FileSink } from './file.js';
import { StdoutSink } from './stdout.js';
import type { Sink } from './types.js';

export function buildSink(output: OutputConfig, logger: Logger): Sink {
  switch (output.type) {
    case 'stdout':
      return new StdoutSink(output.name);
    case 'file':
      return new FileSink(output.name, output.path, {
        onTruncate: ({ path, from, to }) => {
          logger.warn(`output ${output.name}: removed ${from - to} bytes at the end of ${path} that were written but not committed before the last stop; they are shipped again now`, { output: output.name });
        },
      });
    case 'splunk_hec':
    case 'syslog':
      throw new ShipperError('ERR_OUTPUT_UNSUPPORTED', `output ${output.name}: type ${output.type} is not available in this version; use stdout or file`);
  }
}

export function buildFormatter(output: OutputConfig, config: Config): OutputRuntime['format'] {
  const header = output.type === 'splunk_hec' ? {} : output;
  const options = formatterOptions(config.format, header);
  if (output.type === 'syslog') return recordFormatter(output.rfc === 3164 ? 'rfc3164' : 'rfc5424', options, output.format);
  return recordFormatter(output.format, options);
}

export function buildOutputs(config: Config, logger: Logger, only?: readonly string[]): OutputRuntime[] {
  const selected = only && only.length > 0 ? config.outputs.filter((o) => only.includes(o.name)) : config.outputs;
  return selected.map((output) => ({ name: output.name, sink: buildSink(output, logger), format: buildFormatter(output, config) }));
}
