/**
 * Prometheus metrics (prom-client, own registry). Counters are fed by the pipeline and the
 * outputs; lag and cooldown gauges are computed at scrape time from the state and the limiter.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StateData } from '../state/schema.js';
import { msOf } from '../format/time.js';

export interface MetricsSources {
  state: () => StateData;
  accounts: readonly { id: string; label: string }[];
  outputs: readonly string[];
  cooldownEndsAt: () => number;
  now?: () => number;
}

/** What one poll of one account did, as the metrics count it (the pipeline's AccountPollResult). */
export interface PollCounts {
  account: string;
  fetched: number;
  shipped: Record<string, number>;
  deadLettered: Record<string, number>;
  duplicates: Record<string, number>;
  failedOutputs: Record<string, unknown>;
  error?: unknown;
}

/** What one push to the Logpush receiver did (the receiver's PushResult). */
export interface PushCounts {
  status: number;
  shipped: Record<string, number>;
  duplicates: Record<string, number>;
  bad: number;
  validation: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  readonly fetched: Counter<'account'>;
  readonly shipped: Counter<'account' | 'output'>;
  readonly deadLettered: Counter<'account' | 'output'>;
  readonly deduplicated: Counter<'account' | 'output'>;
  readonly apiRequests: Counter<'status'>;
  readonly rateLimited: Counter;
  readonly ackLatency: Histogram<'output'>;
  readonly hecMaybeDuplicated: Counter<'output' | 'reason'>;
  readonly esAlreadyIndexed: Counter<'output'>;
  readonly syslogReconnects: Counter<'output'>;
  readonly syslogTruncated: Counter<'output'>;
  readonly pollErrors: Counter<'account'>;
  readonly outputFailures: Counter<'account' | 'output'>;
  readonly pushes: Counter<'endpoint' | 'status'>;
  readonly pushEvents: Counter<'endpoint' | 'output' | 'result'>;
  readonly pushBadLines: Counter<'endpoint'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const now = sources.now ?? Date.now;
    collectDefaultMetrics({ register: this.registry, prefix: 'cfas_' });
    this.pushes = new Counter({
      name: 'cfas_push_requests_total',
      help: 'Logpush pushes answered, by HTTP status (200 confirmed, 503 an output did not confirm, 4xx refused)',
      labelNames: ['endpoint', 'status'],
      registers,
    });
    this.pushEvents = new Counter({
      name: 'cfas_push_events_total',
      help: 'Pushed events per output: shipped (confirmed), or duplicate (already confirmed: a resent batch, or polled)',
      labelNames: ['endpoint', 'output', 'result'],
      registers,
    });
    this.pushBadLines = new Counter({
      name: 'cfas_push_bad_lines_total',
      help: 'Pushed lines that were not events of the endpoint dataset (dead-lettered)',
      labelNames: ['endpoint'],
      registers,
    });
    this.fetched = new Counter({
      name: 'cfas_events_fetched_total',
      help: 'Events read from the Cloudflare API (inside the poll window)',
      labelNames: ['account'],
      registers,
    });
    this.shipped = new Counter({
      name: 'cfas_events_shipped_total',
      help: 'Events confirmed by an output',
      labelNames: ['account', 'output'],
      registers,
    });
    this.deadLettered = new Counter({
      name: 'cfas_events_dead_lettered_total',
      help: 'Events an output refused for good (written to its dead-letter file)',
      labelNames: ['account', 'output'],
      registers,
    });
    this.deduplicated = new Counter({
      name: 'cfas_events_deduplicated_total',
      help: 'Events re-read in the overlap and skipped because the output already had them',
      labelNames: ['account', 'output'],
      registers,
    });
    this.apiRequests = new Counter({
      name: 'cfas_api_requests_total',
      help: 'Cloudflare API requests by HTTP status (0: no response)',
      labelNames: ['status'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'cfas_api_rate_limited_total',
      help: 'Cloudflare API answers 429',
      registers,
    });
    this.pollErrors = new Counter({
      name: 'cfas_poll_errors_total',
      help: 'Polls of an account that ended in an error',
      labelNames: ['account'],
      registers,
    });
    this.outputFailures = new Counter({
      name: 'cfas_output_failures_total',
      help: 'Polls in which an output failed',
      labelNames: ['account', 'output'],
      registers,
    });
    this.ackLatency = new Histogram({
      name: 'cfas_hec_ack_latency_seconds',
      help: 'Time from sending a batch to HEC until its indexer acknowledgement',
      labelNames: ['output'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.hecMaybeDuplicated = new Counter({
      name: 'cfas_hec_maybe_duplicated_total',
      help: 'Events resent to HEC although it may have indexed them (reason: cut_in_flight, ack_timeout, unacknowledged_prefix)',
      labelNames: ['output', 'reason'],
      registers,
    });
    this.esAlreadyIndexed = new Counter({
      name: 'cfas_elasticsearch_already_indexed_total',
      help: 'Events Elasticsearch already had when sent again (409 on create: a retry or replay it absorbed, not indexed twice)',
      labelNames: ['output'],
      registers,
    });
    this.syslogReconnects = new Counter({
      name: 'cfas_syslog_reconnects_total',
      help: 'Syslog connections opened again after a drop',
      labelNames: ['output'],
      registers,
    });
    this.syslogTruncated = new Counter({
      name: 'cfas_syslog_truncated_total',
      help: 'Syslog records shortened to max_message_bytes',
      labelNames: ['output'],
      registers,
    });
    new Gauge({
      name: 'cfas_api_cooldown_seconds',
      help: 'Seconds left in a Cloudflare rate-limit cooldown (0: none)',
      registers,
      collect() {
        this.set(Math.max(0, (sources.cooldownEndsAt() - now()) / 1000));
      },
    });
    new Gauge({
      name: 'cfas_checkpoint_lag_seconds',
      help: 'How far behind now each output checkpoint is, per account',
      labelNames: ['account', 'output'],
      registers,
      collect() {
        this.reset();
        const state = sources.state();
        for (const account of sources.accounts) {
          for (const output of sources.outputs) {
            const cursor = state.accounts[account.id]?.outputs[output];
            if (cursor)
              this.set({ account: account.label, output }, Math.max(0, (now() - msOf(cursor.checkpoint)) / 1000));
          }
        }
      },
    });
    new Gauge({
      name: 'cfas_last_successful_poll_timestamp_seconds',
      help: 'Unix time of the last poll of an account that ended without an error',
      labelNames: ['account'],
      registers,
      collect() {
        this.reset();
        const state = sources.state();
        for (const account of sources.accounts) {
          const at = state.accounts[account.id]?.last_poll?.at;
          if (at !== undefined) this.set({ account: account.label }, Date.parse(at) / 1000);
        }
      },
    });
  }

  recordPoll(result: PollCounts): void {
    const account = result.account;
    this.fetched.inc({ account }, result.fetched);
    for (const [output, n] of Object.entries(result.shipped)) this.shipped.inc({ account, output }, n);
    for (const [output, n] of Object.entries(result.deadLettered)) this.deadLettered.inc({ account, output }, n);
    for (const [output, n] of Object.entries(result.duplicates)) this.deduplicated.inc({ account, output }, n);
    for (const output of Object.keys(result.failedOutputs)) this.outputFailures.inc({ account, output });
    if (result.error) this.pollErrors.inc({ account });
  }

  recordPush(endpoint: string, result: PushCounts): void {
    this.pushes.inc({ endpoint, status: String(result.status) });
    for (const [output, n] of Object.entries(result.shipped))
      this.pushEvents.inc({ endpoint, output, result: 'shipped' }, n);
    for (const [output, n] of Object.entries(result.duplicates))
      this.pushEvents.inc({ endpoint, output, result: 'duplicate' }, n);
    if (result.bad > 0) this.pushBadLines.inc({ endpoint }, result.bad);
  }
}
