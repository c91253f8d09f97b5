/**
 * A dataset: one kind of event (Access authentication logs, HTTP request logs …), how it arrives,
 * how its time and identity are read, and how it is written in every format. Outputs, delivery,
 * dedup, dead letters, metrics and the commit discipline are shared and take a Dataset as data;
 * they never test for a dataset's name. Adding one is a new folder beside access-requests/.
 */
import type { CefOptions } from '../format/cef.js';
import type { EcsOptions } from '../format/ecs.js';
import type { Formatter, MessageFormat } from '../format/index.js';
import type { EventRecord } from '../format/record.js';
import type { SyslogFields } from '../format/syslog.js';
import type { Timestamp } from '../format/time.js';

export type Arrival = 'polled' | 'pushed';

export interface Dataset<E extends EventRecord = EventRecord> {
  /** Its name in configuration, state and metrics (`access_requests`). */
  readonly name: string;
  /** How its events come in: read from an API with a cursor, pushed to the receiver, or both. */
  readonly arrivals: readonly Arrival[];
  /** Whether a parsed JSON value is one of its events (else it is dead-lettered). */
  isEvent(value: unknown): value is E;
  /** The event's time as written (RFC 3339), or undefined. */
  time(event: E): string | undefined;
  /** The event's time as an instant, where the dataset reads it cheaper than by parsing `time`. */
  timestamp?(event: E): Timestamp | undefined;
  /** The content hash that identifies the event: dedup across reads, pushes and restarts. */
  identity(event: E): string;
  /** A pushed (Logpush) record as this dataset's event; only datasets that can be pushed have it. */
  fromPush?: (record: EventRecord) => E;
  /**
   * The identity of a pushed event from the NDJSON line it came in alone; default `identity(event)`.
   * A dataset that is only ever pushed can hash the line itself: Logpush sends a batch again byte
   * for byte, and hashing the text costs a fraction of the canonical form (and needs no object:
   * a receiver whose worker parsed the line computes it on its own thread).
   */
  pushedIdentity?(line: string): string;
  /**
   * For a dataset that is both polled and pushed: the identity both arrivals of one event agree
   * on (fields both carry, time at a precision both have), so that polling and receiving one
   * account side by side ship each event once per output.
   */
  sharedIdentity?(event: E): string;
  cef(options: CefOptions): Formatter<E>;
  ecs(options: EcsOptions): Formatter<E>;
  json: Formatter<E>;
  /** The syslog header's fields and the RFC 5424 structured data. */
  syslog: SyslogFields<E>;
  /** The Splunk sourcetype of each message format (HEC metadata). */
  sourcetype(format: MessageFormat): string;
}
