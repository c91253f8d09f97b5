/**
 * The events of a pushed slice, read once for every output: parsed, mapped to the dataset's event,
 * timed and identified; and the record each output writes of one, formatted only when it is read.
 */
import type { Dataset } from '../datasets/dataset.js';
import type { Formatter } from '../format/index.js';
import type { EventRecord } from '../format/record.js';
import type { SyslogFields } from '../format/syslog.js';
import { formatUtc, parseTimestamp, type Timestamp } from '../format/time.js';
import type { OutputRecord } from '../sink/types.js';
import type { BodyLine } from './body.js';

/** An event of a push, read once for every output. */
export interface PushedEvent {
  event: EventRecord;
  /** The outputs' record id (the full content hash, or the line's). */
  id: string;
  /** What the dedup window knows it by: `id`, or the identity shared with polling (see arrivals.ts). */
  key: string;
  ts: Timestamp;
  /** The time as the event wrote it, when the dataset reads it from text. */
  timeText: string | undefined;
  /** The line it came in, when the event is that line's object unchanged (its plain JSON form). */
  line: string | undefined;
  /** The line it came in, as received. */
  text: string;
}

/** `identify` false: `id` and `key` are left '' where the dataset has them from the line (the receiver's thread reads them). */
export function pushedEvent(
  dataset: Dataset,
  event: EventRecord,
  line: string,
  unchanged: boolean,
  shared: boolean,
  identify = true,
): PushedEvent | undefined {
  let ts: Timestamp | undefined;
  let timeText: string | undefined;
  if (dataset.timestamp) ts = dataset.timestamp(event);
  else {
    timeText = dataset.time(event);
    ts = timeText === undefined ? undefined : parseTimestamp(timeText);
  }
  if (!ts) return undefined;
  const id = dataset.pushedIdentity ? (identify ? dataset.pushedIdentity(line) : '') : dataset.identity(event);
  const key = shared && dataset.sharedIdentity ? dataset.sharedIdentity(event) : id;
  return { event, id, key, ts, timeText, line: unchanged ? line.trim() : undefined, text: line };
}

/** What every record of one output for one endpoint shares. */
export interface RecordShape {
  format: Formatter;
  /** The format is the dataset's plain JSON: an unchanged event is written as the line it came in. */
  json: boolean;
  accountId: string;
  sourcetype: string | undefined;
  syslog: SyslogFields;
  dataset: string;
}

/** An output's record of a pushed event: formatted when the output reads `text` (not before). */
export class PushedRecord implements OutputRecord {
  readonly id: string;
  readonly epochMs: number;
  readonly accountId: string;
  readonly sourcetype: string | undefined;
  readonly syslog: SyslogFields;
  readonly dataset: string;

  constructor(
    private readonly pushed: PushedEvent,
    private readonly shape: RecordShape,
  ) {
    this.id = pushed.id;
    this.epochMs = pushed.ts.epochMs;
    this.accountId = shape.accountId;
    this.sourcetype = shape.sourcetype;
    this.syslog = shape.syslog;
    this.dataset = shape.dataset;
  }

  /** Read only where an output needs the object (a worker's events parse their line again for it). */
  get event(): EventRecord {
    return this.pushed.event;
  }

  get text(): string {
    // Plain JSON is "the event as received" (json.ts): here that is the line itself, which spares
    // serializing it again. Only when the shipper adds nothing (no account_id to add).
    const line = this.pushed.line;
    if (line !== undefined && this.shape.json && (this.shape.accountId === '' || this.event.account_id !== undefined))
      return line;
    const accountId = this.shape.accountId === '' ? undefined : this.shape.accountId;
    return this.shape.format(this.event, { accountId, epochMs: this.epochMs });
  }

  get time(): string {
    return this.pushed.timeText ?? formatUtc(this.pushed.ts, this.pushed.ts.fractionDigits);
  }
}

export interface BadLine {
  number: number;
  reason: string;
  text: string;
}

export interface PreparedSlice {
  events: PushedEvent[];
  bad: BadLine[];
}

/**
 * Parses a slice's lines; what is not an event of the dataset (not JSON, no time) is set apart.
 * `shared`: the endpoint's windows are shared with polling (events are known by `sharedIdentity`).
 * `identify` false: identities read from the line are left to the receiving thread (see pushedEvent).
 */
export function prepareSlice(
  dataset: Dataset,
  lines: readonly BodyLine[],
  shared = false,
  identify = true,
): PreparedSlice {
  const events: PushedEvent[] = [];
  const bad: BadLine[] = [];
  for (const line of lines) {
    let value: unknown;
    try {
      value = JSON.parse(line.text);
    } catch (error) {
      bad.push({ number: line.number, reason: `not JSON (${(error as Error).message})`, text: line.text });
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      bad.push({ number: line.number, reason: 'not a JSON object', text: line.text });
      continue;
    }
    const event = dataset.fromPush?.(value as EventRecord) ?? (value as EventRecord);
    // A pretty-printed array element spans lines: never written as it came (an NDJSON file would break).
    const verbatim = event === value && !(line.element === true && /[\r\n]/.test(line.text));
    const pushed = pushedEvent(dataset, event, line.text, verbatim, shared, identify);
    if (!pushed) {
      bad.push({ number: line.number, reason: 'no readable time', text: line.text });
      continue;
    }
    events.push(pushed);
  }
  return { events, bad };
}
