/**
 * Splunk HTTP Event Collector output (got 14). Sends each batch as gzip'd concatenated JSON
 * events, follows the HEC code table (retry, split on 413, dead-letter rejected events, stop on
 * token/index/channel errors) and, with indexer acknowledgement, reports delivered only when
 * every ackId of the batch is true. A retried batch sends only the events not yet confirmed.
 */
import { hostname as osHostname } from 'node:os';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { SplunkHecOutputConfig } from '../config/outputs.js';
import type { Logger } from '../ops/logger.js';
import { type Clock, realClock } from '../source/rate-limiter.js';
import { parseRetryAfter } from '../source/retry.js';
import { type HecEndpoint, hecEndpoint, hecRequest, keepAliveAgents } from './hec-http.js';
import { type Chunk, classifyHecResponse, defaultSourcetype, encodeBatches, envelopeText, type HecEnvelope, parseHecBody, sliceChunk } from './hec-protocol.js';
import { isCertificateError } from './syslog-connection.js';
import { readTlsFiles } from './tls-files.js';
import type { DeliveryResult, OutputRecord, RejectedRecord, Sink } from './types.js';

const gzip = promisify(gzipCallback);

type Failure = Exclude<DeliveryResult, { status: 'delivered' }>;

interface PendingAck {
  ackId: number;
  /** Positions in the batch of the events this ackId confirms. */
  indices: number[];
}

/**
 * Which events of a batch HEC has confirmed, one flag per position, kept per batch array (a
 * retry offers the same array): a retried batch sends only what is not confirmed yet.
 */
type Confirmed = Uint8Array;

export interface SplunkHecSinkOptions {
  logger: Logger;
  clock?: Clock;
  onAckLatency?: (ms: number) => void;
}

export class SplunkHecSink implements Sink {
  /** Batches in flight: acks take seconds on a real indexer, so several wait at once. */
  readonly concurrency = 8;
  readonly exactlyOnce = false;
  private readonly envelope: HecEnvelope;
  private readonly envelopeText: string;
  private readonly confirmed = new WeakMap<readonly OutputRecord[], Confirmed>();
  private readonly clock: Clock;
  private agents = keepAliveAgents(this.concurrency);
  private readonly endpoint: HecEndpoint;
  /** Seen an ackId from this server (ack: auto decides per response). */
  private acksSeen = false;

  constructor(
    readonly name: string,
    private readonly config: SplunkHecOutputConfig,
    private readonly options: SplunkHecSinkOptions,
  ) {
    this.clock = options.clock ?? realClock;
    this.endpoint = hecEndpoint(name, config);
    this.envelope = {
      host: config.host ?? osHostname(),
      source: config.source,
      sourcetype: config.sourcetype ?? defaultSourcetype(config.format),
      index: config.index,
      eventIsJson: config.format !== 'cef',
    };
    this.envelopeText = envelopeText(this.envelope);
  }

  private get base(): string {
    return this.endpoint.base;
  }

  private get key(): string {
    return `outputs.${this.name}`;
  }

  open(): Promise<void> {
    this.endpoint.tls = readTlsFiles(this.name, this.config.tls);
    if (!this.config.tls.verify) {
      this.options.logger.warn(`output ${this.name}: TLS certificate verification is OFF (tls.verify: false) — anyone on the path can read and change events and capture the HEC token`, { output: this.name });
    }
    if (this.base.startsWith('http:')) {
      this.options.logger.warn(`output ${this.name}: ${this.base} is plain http — the HEC token and events travel unencrypted`, { output: this.name });
    }
    return Promise.resolve();
  }

  private request(path: string, body: Buffer, extraHeaders: Record<string, string>) {
    return hecRequest({ ...this.endpoint, agents: this.agents }, path, 'POST', body, extraHeaders);
  }

  async deliver(records: readonly OutputRecord[], signal?: AbortSignal): Promise<DeliveryResult> {
    let confirmed = this.confirmed.get(records);
    if (!confirmed) {
      confirmed = new Uint8Array(records.length);
      this.confirmed.set(records, confirmed);
    }
    const pending: number[] = [];
    for (let i = 0; i < records.length; i++) if (confirmed[i] === 0) pending.push(i);
    if (pending.length === 0) return { status: 'delivered' };
    const rejected: RejectedRecord[] = [];
    const acks: PendingAck[] = [];
    for (const chunk of encodeBatches(records, pending, this.envelope, this.envelopeText, this.config.batch.max_events, this.config.batch.max_bytes)) {
      const failure = await this.sendChunk(chunk, confirmed, rejected, acks, true);
      if (failure) return failure;
    }
    if (acks.length > 0) {
      const failure = await this.waitForAcks(acks, confirmed, signal);
      if (failure) return failure;
    }
    return rejected.length > 0 ? { status: 'delivered', rejected } : { status: 'delivered' };
  }

  /** Sends one body; handles split, reject and the invalid-event-number prefix. */
  private async sendChunk(chunk: Chunk, confirmed: Confirmed, rejected: RejectedRecord[], acks: PendingAck[], mayResendPrefix: boolean): Promise<Failure | undefined> {
    // Level 1: HEC bodies (repetitive JSON) still shrink ~5×, at a fraction of level 6's CPU.
    const body = this.config.gzip ? await gzip(chunk.body, { level: 1 }) : chunk.body;
    let response;
    try {
      response = await this.request('/services/collector/event', body, this.config.gzip ? { 'content-encoding': 'gzip' } : {});
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code !== undefined && !(error as Error).message.includes(code) ? `${code}: ${(error as Error).message}` : (error as Error).message;
      if (isCertificateError(error)) {
        return { status: 'fatal', error: new Error(`HEC ${this.base}: the server certificate is not trusted (${reason}); set ${this.key}.tls.ca_file to the CA that signed it`, { cause: error }) };
      }
      return { status: 'retry', error: new Error(`HEC ${this.base}: ${reason}`, { cause: error }) };
    }
    const verdict = classifyHecResponse({ status: response.statusCode, body: response.body }, this.key);
    switch (verdict.kind) {
      case 'ok':
        return this.accepted(chunk.indices, verdict.ackId, confirmed, acks);
      case 'retry': {
        const header: string | string[] | undefined = response.headers['retry-after'];
        const retryAfterMs = parseRetryAfter(typeof header === 'string' ? header : header?.[0], this.clock.now());
        const failure: Failure = { status: 'retry', error: new Error(`HEC ${verdict.reason}`) };
        if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
        return failure;
      }
      case 'fatal':
        return { status: 'fatal', error: new Error(`HEC ${verdict.reason}`) };
      case 'split':
      case 'reject': {
        const n = verdict.kind === 'reject' ? verdict.invalidEventNumber : undefined;
        const count = chunk.indices.length;
        if (n !== undefined && n >= 0 && n < count) return this.rejectAt(chunk, n, verdict.reason, confirmed, rejected, acks, mayResendPrefix);
        const only = count === 1 ? chunk.records[chunk.indices[0] ?? -1] : undefined;
        if (only) {
          rejected.push({ record: only, reason: verdict.reason });
          return undefined;
        }
        // No position given: halve until the bad events (or the too-large one) stand alone.
        const mid = Math.ceil(count / 2);
        for (const half of [sliceChunk(chunk, 0, mid), sliceChunk(chunk, mid, count)]) {
          const failure = await this.sendChunk(half, confirmed, rejected, acks, mayResendPrefix);
          if (failure) return failure;
        }
        return undefined;
      }
    }
  }

  /** Event `n` is bad: dead-letter it; the prefix was indexed (resent once when only acks can confirm it); send the rest. */
  private async rejectAt(chunk: Chunk, n: number, reason: string, confirmed: Confirmed, rejected: RejectedRecord[], acks: PendingAck[], mayResendPrefix: boolean): Promise<Failure | undefined> {
    const bad = chunk.records[chunk.indices[n] ?? -1];
    if (bad) rejected.push({ record: bad, reason });
    if (n > 0) {
      const prefix = sliceChunk(chunk, 0, n);
      if (this.ackWanted() && mayResendPrefix) {
        const failure = await this.sendChunk(prefix, confirmed, rejected, acks, false);
        if (failure) return failure;
      } else {
        for (const index of prefix.indices) confirmed[index] = 1;
      }
    }
    const count = chunk.indices.length;
    if (n + 1 < count) return this.sendChunk(sliceChunk(chunk, n + 1, count), confirmed, rejected, acks, mayResendPrefix);
    return undefined;
  }

  private ackWanted(): boolean {
    return this.config.ack === true || (this.config.ack === 'auto' && this.acksSeen);
  }

  private accepted(indices: number[], ackId: number | undefined, confirmed: Confirmed, acks: PendingAck[]): Failure | undefined {
    if (ackId !== undefined) this.acksSeen = true;
    if (this.config.ack === true && ackId === undefined) {
      return { status: 'fatal', error: new Error(`HEC accepted the batch without an ackId, but ${this.key}.ack is true: enable indexer acknowledgement on the token, or set ack to auto or false`) };
    }
    if (ackId !== undefined && this.config.ack !== false) acks.push({ ackId, indices });
    else for (const index of indices) confirmed[index] = 1;
    return undefined;
  }

  /** Polls /services/collector/ack until every ackId is true, or resends after ack_timeout. */
  private async waitForAcks(acks: PendingAck[], confirmed: Confirmed, signal?: AbortSignal): Promise<Failure | undefined> {
    const started = this.clock.now();
    let waiting = acks;
    let lastProblem = '';
    // Poll soon, then twice as long each time up to ack_poll_interval: a fast indexer acks within
    // tens of milliseconds (and a batch waiting for its ack holds a slot of the pipeline), a busy
    // one in seconds, where the first few polls cost a small request each.
    let interval = Math.min(20, this.config.ack_poll_interval);
    while (waiting.length > 0) {
      if (this.clock.now() - started >= this.config.ack_timeout) {
        return {
          status: 'retry',
          error: new Error(`HEC indexer acknowledgement: ${waiting.length} request(s) not acknowledged after ${Math.round(this.config.ack_timeout / 1000)} s${lastProblem ? ` (${lastProblem})` : ''}; resending them (Splunk may index them twice)`),
        };
      }
      try {
        await this.clock.sleep(Math.min(interval, Math.max(0, started + this.config.ack_timeout - this.clock.now())), signal);
      } catch {
        // Shutting down: the batch stays unconfirmed (not committed) and is sent again at the next start.
        return { status: 'retry', error: new Error(`HEC indexer acknowledgement: stopped waiting for ${waiting.length} request(s) at shutdown; they are sent again at the next start`) };
      }
      interval = Math.min(interval * 2, this.config.ack_poll_interval);
      try {
        const response = await this.request('/services/collector/ack', Buffer.from(JSON.stringify({ acks: waiting.map((a) => a.ackId) })), {});
        const body = parseHecBody(response.body) as { acks?: Record<string, boolean>; code?: number };
        if (response.statusCode !== 200 || !body.acks) {
          const verdict = classifyHecResponse({ status: response.statusCode, body: response.body }, this.key);
          if (verdict.kind === 'fatal') return { status: 'fatal', error: new Error(`HEC ack: ${verdict.reason}`) };
          lastProblem = `ack query: HTTP ${response.statusCode}`;
          continue;
        }
        const answered = body.acks;
        const done = waiting.filter((a) => answered[String(a.ackId)] === true);
        for (const ack of done) for (const index of ack.indices) confirmed[index] = 1;
        if (done.length > 0) this.options.onAckLatency?.(this.clock.now() - started);
        waiting = waiting.filter((a) => answered[String(a.ackId)] !== true);
      } catch (error) {
        lastProblem = `ack query: ${(error as Error).message}`;
      }
    }
    return undefined;
  }

  position(): undefined {
    return undefined;
  }

  reopen(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.agents.http.destroy();
    this.agents.https.destroy();
    this.agents = keepAliveAgents(this.concurrency);
    return Promise.resolve();
  }
}

