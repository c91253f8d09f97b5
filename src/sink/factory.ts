/** Builds the running outputs from configuration (Vector-style: config is data). */
import type { Config } from '../config/schema.js';
import type { OutputConfig } from '../config/outputs.js';
import { formatterOptions } from '../config/formatter.js';
import type { Dataset } from '../datasets/dataset.js';
import { messageFormatter, recordFormatter } from '../datasets/formatters.js';
import type { Logger } from '../logging.js';
import type { OutputRuntime } from './output-runtime.js';
import { ElasticsearchSink } from './elasticsearch.js';
import { FileSink } from './file.js';
import { type MaybeDuplicatedReason, SplunkHecSink } from './splunk-hec.js';
import { StdoutSink } from './stdout.js';
import { SyslogSink } from './syslog.js';
import type { Sink } from './types.js';

/** Callbacks for metrics. */
export interface SinkHooks {
  onAckLatency?: (output: string, ms: number) => void;
  onHecMaybeDuplicated?: (output: string, count: number, reason: MaybeDuplicatedReason) => void;
  onSyslogReconnect?: (output: string) => void;
  onSyslogTruncated?: (output: string, count: number) => void;
  onEsAlreadyIndexed?: (output: string, count: number) => void;
}

/** `statePath`: the state file the outputs' own journals sit beside (HEC's pending acks). */
export function buildSink(
  output: OutputConfig,
  config: Config,
  dataset: Dataset,
  logger: Logger,
  hooks: SinkHooks = {},
  statePath?: string,
): Sink {
  switch (output.type) {
    case 'stdout':
      return new StdoutSink(output.name);
    case 'file':
      return new FileSink(output.name, output.path, {
        onTruncate: ({ path, from, to }) => {
          logger.warn(
            `output ${output.name}: removed ${from - to} bytes at the end of ${path} that were written but not committed before the last stop; they are shipped again now`,
            { output: output.name },
          );
        },
      });
    case 'splunk_hec':
      return new SplunkHecSink(output.name, output, {
        logger,
        sourcetype: dataset.sourcetype(output.format),
        onAckLatency: (ms) => hooks.onAckLatency?.(output.name, ms),
        onMaybeDuplicated: (count, reason) => hooks.onHecMaybeDuplicated?.(output.name, count, reason),
        ...(statePath === undefined ? {} : { ackJournalPath: `${statePath}.hec-acks.${output.name}` }),
      });
    case 'elasticsearch':
      return new ElasticsearchSink(output.name, output, {
        logger,
        dataset: dataset.name,
        onAlreadyIndexed: (count) => hooks.onEsAlreadyIndexed?.(output.name, count),
      });
    case 'syslog':
      return new SyslogSink(output.name, output, {
        logger,
        syslog: formatterOptions(config.format, output).syslog,
        fields: dataset.syslog,
        onReconnect: () => hooks.onSyslogReconnect?.(output.name),
        onTruncated: (count) => hooks.onSyslogTruncated?.(output.name, count),
      });
  }
}

export function buildFormatter(output: OutputConfig, config: Config, dataset: Dataset): OutputRuntime['format'] {
  const header = output.type === 'splunk_hec' || output.type === 'elasticsearch' ? {} : output;
  const options = formatterOptions(config.format, header);
  // Elasticsearch takes ECS documents.
  if (output.type === 'elasticsearch') return recordFormatter(dataset, 'ecs', options);
  // The syslog output builds the header itself (it needs it apart to fit max_message_bytes).
  if (output.type === 'syslog') return messageFormatter(dataset, output.format, options);
  return recordFormatter(dataset, output.format, options);
}

export function buildOutputs(
  config: Config,
  dataset: Dataset,
  logger: Logger,
  only?: readonly string[],
  hooks: SinkHooks = {},
  statePath?: string,
): OutputRuntime[] {
  const selected = only && only.length > 0 ? config.outputs.filter((o) => only.includes(o.name)) : config.outputs;
  return selected.map((output) => ({
    name: output.name,
    sink: buildSink(output, config, dataset, logger, hooks, statePath),
    format: buildFormatter(output, config, dataset),
  }));
}
