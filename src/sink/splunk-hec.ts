/**
 * Splunk HTTP Event Collector output. Sends each batch as gzip'd concatenated JSON events to one
 * of the output's URLs, follows the HEC code table (retry, split on 413, dead-letter rejected
 * events, stop on token/index/channel errors) and, with indexer acknowledgement, reports
 * delivered only when every ackId covering the batch is true.
 *
 * What HEC accepted is remembered per event (AckBook), across retries and restarts: a retried or
 * re-read batch sends only events HEC did not accept, and waits on the ackIds of the others. The
 * only resends of something HEC may have indexed are a request cut after it was written and an
 * ackId still false after ack_timeout; both are counted (`onMaybeDuplicated`) and logged.
 */
import { hostname as osHostname } from 'node:os';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { SplunkHecOutputConfig } from '../config/outputs.js';
import type { Logger } from '../logging.js';
import { type Clock, realClock } from '../clock.js';
import { parseRetryAfter } from '../net/backoff.js';
import { AckBook, type AckEntry } from './hec-ack-book.js';
import { HecConnectionError, hecEndpoint, hecRequest, hecUrls } from './hec-http.js';
import { proxyRefusedIn } from '../net/proxy-agent.js';
import { type MaybeDuplicatedReason, maybeDuplicatedWhy, openingNotes } from './hec-notes.js';
import {
  type Chunk,
  classifyHecResponse,
  encodeBatches,
  envelopeText,
  type HecEnvelope,
  sliceChunk,
} from './hec-protocol.js';
import { pollAcks } from './hec-ack-poll.js';
import { HecTarget, pickTarget } from './hec-targets.js';
import { isCertificateError } from './syslog-connection.js';
import { readTlsFiles } from './tls-files.js';
import type { DeliveryResult, OutputRecord, RejectedRecord, Sink } from './types.js';

const gzip = promisify(gzipCallback);

type Failure = Exclude<DeliveryResult, { status: 'delivered' }>;

export type { MaybeDuplicatedReason };

export interface SplunkHecSinkOptions {
  logger: Logger;
  /** The sourcetype when the config sets none (the dataset's for the output's format); unset: the token's. */
  sourcetype?: string;
  clock?: Clock;
  onAckLatency?: (ms: number) => void;
  /** Events resent although HEC may have indexed them already. */
  onMaybeDuplicated?: (count: number, reason: MaybeDuplicatedReason) => void;
  /** The journal of pending acknowledgements (beside the state file); without it they live in memory only. */
  ackJournalPath?: string;
}

/** What one delivery call does: dead letters found and the requests it is waiting on. */
interface Attempt {
  records: readonly OutputRecord[];
  rejected: RejectedRecord[];
  waits: Set<AckEntry>;
  /** Something was accepted or confirmed in this call (a retry then is not a failed attempt). */
  progressed: boolean;
}

export class SplunkHecSink implements Sink {
  /** Batches in flight: acks take seconds on a real indexer, so several wait at once. */
  readonly concurrency = 8;
  readonly exactlyOnce = false;
  private readonly envelope: HecEnvelope;
  private readonly envelopeText: string;
  /** Envelope texts of records that bring their own sourcetype (pushed datasets). */
  private readonly envelopes = new Map<string, string>();
  private readonly envelopeOf = (record: OutputRecord): string => {
    const sourcetype = record.sourcetype;
    if (sourcetype === undefined || this.config.sourcetype !== undefined) return this.envelopeText;
    let text = this.envelopes.get(sourcetype);
    if (text === undefined) {
      text = envelopeText({ ...this.envelope, sourcetype });
      if (this.envelopes.size < 64) this.envelopes.set(sourcetype, text);
    }
    return text;
  };
  private readonly clock: Clock;
  readonly targets: HecTarget[];
  private readonly book: AckBook;

  constructor(
    readonly name: string,
    private readonly config: SplunkHecOutputConfig,
    private readonly options: SplunkHecSinkOptions,
  ) {
    this.clock = options.clock ?? realClock;
    this.targets = hecUrls(config).map((url) => new HecTarget(hecEndpoint(name, config, {}, url), this.concurrency));
    this.book = new AckBook(options.ackJournalPath, () => Date.now());
    this.envelope = {
      host: config.host ?? osHostname(),
      source: config.source,
      sourcetype: config.sourcetype ?? options.sourcetype,
      index: config.index,
      eventIsJson: config.format !== 'cef',
    };
    this.envelopeText = envelopeText(this.envelope);
  }

  private get key(): string {
    return `outputs.${this.name}`;
  }

  open(): Promise<void> {
    const tls = readTlsFiles(this.name, this.config.tls);
    for (const target of this.targets) target.endpoint.tls = tls;
    const restored = this.book.open();
    for (const note of openingNotes(this.name, this.config, this.targets, restored)) {
      this.options.logger[note.level](note.text, { output: this.name });
    }
    return Promise.resolve();
  }

  private ackWanted(target: HecTarget): boolean {
    return this.config.ack === true || (this.config.ack === 'auto' && target.acksSeen);
  }

  async deliver(records: readonly OutputRecord[], signal?: AbortSignal): Promise<DeliveryResult> {
    const attempt: Attempt = { records, rejected: [], waits: new Set(), progressed: false };
    const toSend = this.sortOut(attempt);
    let failure: Failure | undefined;
    for (const chunk of encodeBatches(
      records,
      toSend,
      this.envelope,
      this.envelopeOf,
      this.config.batch.max_events,
      this.config.batch.max_bytes,
    )) {
      failure = await this.sendChunk(chunk, attempt, true);
      if (failure) break;
    }
    if (failure?.status === 'fatal') return failure;
    if (attempt.waits.size > 0) {
      // Also after a failed send: what was accepted is confirmed now, so the retry leaves it out.
      const ackFailure = await this.waitForAcks(attempt, failure ? 0 : this.config.ack_timeout, signal);
      if (ackFailure && !failure) failure = ackFailure;
      if (ackFailure?.status === 'fatal') return ackFailure;
    }
    if (failure) return failure.status === 'retry' && attempt.progressed ? { ...failure, progressed: true } : failure;
    return attempt.rejected.length > 0 ? { status: 'delivered', rejected: attempt.rejected } : { status: 'delivered' };
  }

  /**
   * Which events of the batch still need a request: not the ones HEC confirmed or holds under a
   * live ackId (those are waited on). An event whose request was cut in flight, or whose ackId
   * stayed false past ack_timeout, is sent again and counted as a possible duplicate.
   */
  private sortOut(attempt: Attempt): number[] {
    const toSend: number[] = [];
    const resent = { cut_in_flight: 0, ack_timeout: 0 };
    const now = Date.now();
    // Entries being resent are not dropped: the new request's intent supersedes them, so a crash
    // before it is written still finds them (and counts them) at the next start.
    attempt.records.forEach((record, index) => {
      const entry = this.book.lookup(record.id);
      switch (entry?.state) {
        case 'confirmed':
          return;
        case 'pending':
          if (now - entry.sentAt < this.config.ack_timeout && this.targets.some((t) => t.base === entry.base)) {
            attempt.waits.add(entry);
            return;
          }
          if (!entry.counted?.has(record.id)) resent.ack_timeout++;
          break;
        case 'maybe':
          if (!entry.counted?.has(record.id)) resent.cut_in_flight++;
          break;
        case 'sending':
        case undefined:
          break;
      }
      toSend.push(index);
    });
    for (const index of toSend) {
      const id = attempt.records[index]?.id ?? '';
      const entry = this.book.lookup(id);
      if (entry && entry.state !== 'sending') (entry.counted ??= new Set()).add(id);
    }
    for (const reason of ['cut_in_flight', 'ack_timeout'] as const) {
      if (resent[reason] > 0) this.maybeDuplicated(resent[reason], reason);
    }
    return toSend;
  }

  private maybeDuplicated(count: number, reason: MaybeDuplicatedReason): void {
    this.options.logger.warn(
      `output ${this.name}: resending ${count} event(s) HEC may have indexed already (${maybeDuplicatedWhy(reason, this.config.ack_timeout)}); Splunk may hold them twice`,
      { output: this.name },
    );
    this.options.onMaybeDuplicated?.(count, reason);
  }

  /** Sends one body to a reachable target (the next one when a target fails); handles split, reject and the invalid-event-number prefix. */
  private async sendChunk(chunk: Chunk, attempt: Attempt, mayResendPrefix: boolean): Promise<Failure | undefined> {
    // Level 1: HEC bodies (repetitive JSON) still shrink ~5×, at a fraction of level 6's CPU.
    const body = this.config.gzip ? await gzip(chunk.body, { level: 1 }) : chunk.body;
    const ids = chunk.indices.map((i) => chunk.records[i]?.id ?? '');
    let lastFailure: Failure | undefined;
    for (let tries = 0; tries < this.targets.length; tries++) {
      const target = pickTarget(this.targets, this.clock.now());
      if (!target) break;
      const entry = this.book.sending(target.base, ids);
      const cookie = target.cookieHeader();
      const headers: Record<string, string> = {
        ...(this.config.gzip ? { 'content-encoding': 'gzip' } : {}),
        ...(cookie ? { cookie } : {}),
      };
      let response;
      target.inFlight++;
      try {
        response = await hecRequest(
          { ...target.endpoint, agents: target.agents },
          '/services/collector/event',
          'POST',
          body,
          headers,
        );
      } catch (error) {
        const cause = error instanceof HecConnectionError ? error : new HecConnectionError(false, error as Error);
        const reason = cause.message.includes(cause.code) ? cause.message : `${cause.code}: ${cause.message}`;
        if (cause.mayHaveArrived) this.book.cut(entry);
        else this.book.drop(entry);
        if (proxyRefusedIn(cause)?.code === 'ERR_PROXY_AUTH')
          return { status: 'fatal', error: new Error(`HEC ${target.base}: ${reason}`, { cause }) };
        if (isCertificateError(cause)) {
          return {
            status: 'fatal',
            error: new Error(
              `HEC ${target.base}: the server certificate is not trusted (${reason}); set ${this.key}.tls.ca_file to the CA that signed it`,
              { cause },
            ),
          };
        }
        target.markDown(this.clock.now());
        lastFailure = { status: 'retry', error: new Error(`HEC ${target.base}: ${reason}`, { cause }) };
        // Cut in flight: the events may be indexed; the retry resends them, counted.
        if (cause.mayHaveArrived) return lastFailure;
        continue;
      } finally {
        target.inFlight--;
      }
      const route = target.remember(cookie, response.headers);
      const verdict = classifyHecResponse({ status: response.statusCode, body: response.body }, this.key);
      if (verdict.kind !== 'ok') this.book.drop(entry);
      switch (verdict.kind) {
        case 'ok':
          target.markUp();
          return this.accepted(target, entry, verdict.ackId, route, attempt);
        case 'retry': {
          target.markDown(this.clock.now());
          const header: string | string[] | undefined = response.headers['retry-after'];
          const retryAfterMs = parseRetryAfter(typeof header === 'string' ? header : header?.[0], this.clock.now());
          lastFailure = { status: 'retry', error: new Error(`HEC ${verdict.reason}`) };
          if (retryAfterMs !== undefined) lastFailure.retryAfterMs = retryAfterMs;
          if (verdict.busy === true) lastFailure.busy = true;
          continue;
        }
        case 'fatal':
          return { status: 'fatal', error: new Error(`HEC ${verdict.reason}`) };
        case 'split':
        case 'reject':
          return this.refused(chunk, verdict, attempt, mayResendPrefix);
      }
    }
    return lastFailure ?? { status: 'retry', error: new Error(`HEC: ${this.key}.url lists no URL`) };
  }

  /** 400 for bad events or 413: dead-letter the bad ones, send the rest. */
  private async refused(
    chunk: Chunk,
    verdict: { kind: 'split' | 'reject'; reason: string; invalidEventNumber?: number },
    attempt: Attempt,
    mayResendPrefix: boolean,
  ): Promise<Failure | undefined> {
    const n = verdict.kind === 'reject' ? verdict.invalidEventNumber : undefined;
    const count = chunk.indices.length;
    if (n !== undefined && n >= 0 && n < count)
      return this.rejectAt(chunk, n, verdict.reason, attempt, mayResendPrefix);
    const only = count === 1 ? chunk.records[chunk.indices[0] ?? -1] : undefined;
    if (only) {
      attempt.rejected.push({ record: only, reason: verdict.reason });
      return undefined;
    }
    // No position given: halve until the bad events (or the too-large one) stand alone.
    const mid = Math.ceil(count / 2);
    for (const half of [sliceChunk(chunk, 0, mid), sliceChunk(chunk, mid, count)]) {
      const failure = await this.sendChunk(half, attempt, mayResendPrefix);
      if (failure) return failure;
    }
    return undefined;
  }

  /** Event `n` is bad: dead-letter it; the prefix was indexed (resent once when only acks can confirm it); send the rest. */
  private async rejectAt(
    chunk: Chunk,
    n: number,
    reason: string,
    attempt: Attempt,
    mayResendPrefix: boolean,
  ): Promise<Failure | undefined> {
    const bad = chunk.records[chunk.indices[n] ?? -1];
    if (bad) attempt.rejected.push({ record: bad, reason });
    if (n > 0) {
      const prefix = sliceChunk(chunk, 0, n);
      if (this.config.ack !== false && mayResendPrefix && this.targets.some((t) => this.ackWanted(t))) {
        this.maybeDuplicated(n, 'unacknowledged_prefix');
        const failure = await this.sendChunk(prefix, attempt, false);
        if (failure) return failure;
      } else {
        this.book.confirmed(
          this.book.sending(
            '',
            prefix.indices.map((i) => chunk.records[i]?.id ?? ''),
          ),
        );
      }
    }
    const count = chunk.indices.length;
    if (n + 1 < count) return this.sendChunk(sliceChunk(chunk, n + 1, count), attempt, mayResendPrefix);
    return undefined;
  }

  private accepted(
    target: HecTarget,
    entry: AckEntry,
    ackId: number | undefined,
    route: string,
    attempt: Attempt,
  ): Failure | undefined {
    if (ackId !== undefined) target.acksSeen = true;
    attempt.progressed = true;
    if (this.config.ack === true && ackId === undefined) {
      this.book.drop(entry);
      return {
        status: 'fatal',
        error: new Error(
          `HEC accepted the batch without an ackId, but ${this.key}.ack is true: enable indexer acknowledgement on the token, or set ack to auto or false`,
        ),
      };
    }
    if (ackId !== undefined && this.config.ack !== false) {
      this.book.acked(entry, ackId, route || undefined);
      attempt.waits.add(entry);
    } else {
      this.book.confirmed(entry);
    }
    return undefined;
  }

  /** Polls the acks of `waits` until all are true, or until each is `timeoutMs` old (0: one poll). */
  private async waitForAcks(attempt: Attempt, timeoutMs: number, signal?: AbortSignal): Promise<Failure | undefined> {
    const result = await pollAcks([...attempt.waits], {
      targets: this.targets,
      timeoutMs,
      maxIntervalMs: this.config.ack_poll_interval,
      key: this.key,
      clock: this.clock,
      signal,
      onConfirmed: (entry) => {
        attempt.progressed = true;
        this.book.confirmed(entry);
        this.options.onAckLatency?.(Date.now() - entry.sentAt);
      },
    });
    if (result.status === 'fatal') return { status: 'fatal', error: new Error(`HEC ack: ${result.reason}`) };
    if (result.status === 'stopped') {
      return {
        status: 'retry',
        error: new Error(
          `HEC indexer acknowledgement: stopped waiting for ${result.waiting} request(s) at shutdown; the next start asks for them again before resending`,
        ),
      };
    }
    if (result.waiting > 0 && timeoutMs > 0) {
      return {
        status: 'retry',
        error: new Error(
          `HEC indexer acknowledgement: ${result.waiting} request(s) not acknowledged after ${Math.round(timeoutMs / 1000)} s${result.problem ? ` (${result.problem})` : ''}; resending them (Splunk may index them twice)`,
        ),
      };
    }
    return undefined;
  }

  settled(records: readonly OutputRecord[]): void {
    this.book.settle(records.map((r) => r.id));
  }

  position(): undefined {
    return undefined;
  }

  reopen(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    for (const target of this.targets) target.resetAgents();
    this.book.close();
    return Promise.resolve();
  }
}
