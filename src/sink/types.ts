/**
 * The contract every output implements (Vector-style): take a batch, report what happened.
 * The pipeline commits an output's checkpoint only after `delivered`.
 */
import type { EventRecord } from '../format/record.js';
import type { SyslogFields } from '../format/syslog.js';
import type { SinkState } from '../state/schema.js';

export interface OutputRecord {
  /** The formatted record (one line, no terminator). Read it once per use: it may be formatted on each read. */
  text: string;
  event: EventRecord;
  /** The event's identity (content hash, see format/identity.ts): the same event has the same id on every read. */
  readonly id: string;
  /** created_at in epoch milliseconds. */
  epochMs: number;
  /** created_at canonical ("2024-05-01T10:00:00.123456789Z"), for outputs that carry more than milliseconds. */
  time?: string;
  accountId: string;
  /**
   * What its dataset writes this record with where an output takes it per record: the HEC
   * sourcetype (unless the output sets one) and the syslog header's fields. Unset: the output's own.
   */
  sourcetype?: string;
  syslog?: SyslogFields;
  /** The dataset's name, where an output writes datasets apart (Elasticsearch data streams). Unset: the output's. */
  dataset?: string;
}

export interface RejectedRecord {
  record: OutputRecord;
  reason: string;
}

export type DeliveryResult =
  /** The peer has every record, except `rejected` ones it will never accept (dead-lettered). */
  | { status: 'delivered'; rejected?: RejectedRecord[] }
  /**
   * Not all confirmed; the same batch may be offered again later. `progressed`: part of it got
   * through this time (the retry sends less), so the attempt is not counted as a failure.
   * `busy`: the peer answered that it is busy (HEC code 9, HTTP 429): it is up, so the attempt is
   * not counted either (within a bound): a loaded indexer is slow, not down.
   */
  | { status: 'retry'; error: Error; retryAfterMs?: number; progressed?: boolean; busy?: boolean }
  /** The output cannot work until its configuration changes (bad token, wrong index …). */
  | { status: 'fatal'; error: Error };

export interface Sink {
  readonly name: string;
  /** Whether a batch cut short by a crash is undone on restart (file), so replays never duplicate. */
  readonly exactlyOnce: boolean;
  /** Batches this output may have in flight at once (1 keeps strict order: files, stdout, syslog). */
  readonly concurrency: number;
  /** Opens the output; `committed` is the position saved with the last committed batch. */
  open(committed: SinkState | undefined): Promise<void>;
  /** `signal`: the process is stopping; waits (acknowledgements) end early with `retry`. */
  deliver(records: readonly OutputRecord[], signal?: AbortSignal): Promise<DeliveryResult>;
  /** The position to save together with the checkpoint (file outputs). */
  position(): SinkState | undefined;
  /** Reopens files (SIGHUP, logrotate). */
  reopen(): Promise<void>;
  /**
   * These delivered records are committed and the commit is saved: the output may forget what it
   * kept to avoid resending them (HEC's pending acknowledgements).
   */
  settled?(records: readonly OutputRecord[]): void;
  /** Flushes and closes. */
  close(): Promise<void>;
}
