/**
 * Splunk HTTP Event Collector: the code table as a pure classification, payload building and
 * batch cutting. Codes from Splunk's documentation (see README, Splunk HEC).
 */
import { createHash } from 'node:crypto';
import { plainString } from '../format/text.js';
import { withRoom } from './bytes.js';
import type { OutputRecord } from './types.js';

export type HecVerdict =
  | { kind: 'ok'; ackId?: number }
  /** `busy`: the peer is up and asks to come back later (code 9, HTTP 429), as a loaded indexer does. */
  | { kind: 'retry'; reason: string; busy?: boolean }
  | { kind: 'split'; reason: string }
  | { kind: 'reject'; reason: string; invalidEventNumber?: number }
  | { kind: 'fatal'; reason: string };

export interface HecResponse {
  status: number;
  body: string;
}

interface HecBody {
  text?: string;
  code?: number;
  ackId?: number;
  'invalid-event-number'?: number;
}

export function parseHecBody(body: string): HecBody {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null ? value : {};
  } catch {
    return {};
  }
}

/** What to do with a response to POST /services/collector/event. `setting` names the config key. */
export function classifyHecResponse(response: HecResponse, outputKey: string): HecVerdict {
  const body = parseHecBody(response.body);
  const code = body.code;
  const text = body.text ?? (response.body.slice(0, 120) || `HTTP ${response.status}`);
  const what = `HTTP ${response.status}${code === undefined ? '' : `, code ${code}`}: ${text}`;
  if (response.status >= 200 && response.status < 300 && (code === undefined || code === 0)) {
    return body.ackId === undefined ? { kind: 'ok' } : { kind: 'ok', ackId: body.ackId };
  }
  switch (code) {
    case 1:
      return {
        kind: 'fatal',
        reason: `${what}. The HEC token is disabled: enable it in Splunk (Settings → Data inputs → HTTP Event Collector) or set ${outputKey}.token`,
      };
    case 2:
    case 3:
    case 4:
      return {
        kind: 'fatal',
        reason: `${what}. Splunk does not accept the token: check ${outputKey}.token (or token_file)`,
      };
    case 7:
      return {
        kind: 'fatal',
        reason: `${what}. The index does not exist or the token may not write to it: fix ${outputKey}.index or the token's allowed indexes`,
      };
    case 10:
    case 11:
      return {
        kind: 'fatal',
        reason: `${what}. Splunk wants a valid request channel (indexer acknowledgement is on for this token): check ${outputKey}.channel (a GUID) and ${outputKey}.ack`,
      };
    case 14:
      return {
        kind: 'fatal',
        reason: `${what}. Indexer acknowledgement is disabled for this token: set ${outputKey}.ack to auto or false, or enable it on the token`,
      };
    case 16:
      return { kind: 'fatal', reason: `${what}. Check ${outputKey}.url` };
    case 5:
    case 6:
    case 12:
    case 13:
    case 15:
      return body['invalid-event-number'] === undefined
        ? { kind: 'reject', reason: what }
        : { kind: 'reject', reason: what, invalidEventNumber: body['invalid-event-number'] };
    case 9:
      return { kind: 'retry', reason: what, busy: true };
    case 8:
    case 18:
    case 19:
    case 20:
      return { kind: 'retry', reason: what };
    default:
      break;
  }
  if (response.status === 413)
    return { kind: 'split', reason: `${what} (batch larger than the server's max_content_length)` };
  if (response.status === 429) return { kind: 'retry', reason: what, busy: true };
  if (response.status === 408 || response.status >= 500) return { kind: 'retry', reason: what };
  if (response.status === 407) {
    return {
      kind: 'fatal',
      reason: `${what}. The HTTP proxy on the way to HEC wants credentials (or refused them): put them in ${outputKey}.proxy or HTTP_PROXY/HTTPS_PROXY as http://user:password@host:port`,
    };
  }
  if (response.status === 401 || response.status === 403)
    return { kind: 'fatal', reason: `${what}. Check ${outputKey}.token` };
  if (response.status === 404)
    return {
      kind: 'fatal',
      reason: `${what}. No HEC endpoint at this address: check ${outputKey}.url (the base URL, e.g. https://splunk:8088)`,
    };
  return { kind: 'fatal', reason: `${what}. Unexpected answer from HEC: check ${outputKey}.url` };
}

export interface HecEnvelope {
  host: string;
  source: string;
  /** Unset: the token's default sourcetype. */
  sourcetype?: string | undefined;
  index?: string | undefined;
  /** json and ecs records are JSON objects already; cef records are strings. */
  eventIsJson: boolean;
}

// Characters JSON.stringify would escape (quote, backslash, C0 controls) and surrogates (a lone one is escaped too).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NEEDS_JSON_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * Epoch seconds with the event's sub-second digits: three ("1714557600.123"), or six when
 * `canonical` (nine fractional digits) carries microseconds ("1714557600.123456"; Splunk keeps
 * microseconds in _time).
 */
export function epochSecondsText(epochMs: number, canonical?: string): string {
  if (epochMs < 0 || !Number.isInteger(epochMs)) return (epochMs / 1000).toFixed(3);
  const seconds = Math.floor(epochMs / 1000);
  const ms = epochMs - seconds * 1000;
  const text = `${seconds}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}`;
  if (canonical === undefined || canonical.length !== 30) return text;
  const micros = canonical.slice(23, 26);
  return micros === '000' ? text : `${text}${micros}`;
}

/** The part of every event that does not change: host, source, sourcetype, index. */
export function envelopeText(envelope: HecEnvelope): string {
  const index = envelope.index === undefined ? '' : `,"index":${JSON.stringify(envelope.index)}`;
  const sourcetype = envelope.sourcetype === undefined ? '' : `,"sourcetype":${JSON.stringify(envelope.sourcetype)}`;
  return `,"host":${JSON.stringify(envelope.host)},"source":${JSON.stringify(envelope.source)}${sourcetype}${index}`;
}

/**
 * One event in HEC's JSON form; the record text is embedded, not re-parsed. `constant` is
 * `envelopeText(envelope)`, computed once per output.
 */
export function hecEvent(
  record: OutputRecord,
  envelope: HecEnvelope,
  constant: string = envelopeText(envelope),
): string {
  const parts = hecEventParts(record, envelope, constant);
  return parts.head + parts.event + parts.tail;
}

/** `hecEvent` in three parts, written one after the other without joining them (see encodeBatches). */
function hecEventParts(
  record: OutputRecord,
  envelope: HecEnvelope,
  constant: string | ((record: OutputRecord) => string),
): { head: string; event: string; tail: string } {
  const time = epochSecondsText(record.epochMs, record.time);
  const text = record.text; // read once: a record may format its text on each read
  // A CEF line rarely holds a character JSON must escape; quoting it directly is cheaper.
  const quote = !envelope.eventIsJson && !NEEDS_JSON_ESCAPE.test(text);
  const event = envelope.eventIsJson || quote ? text : JSON.stringify(text);
  return {
    head: `{"time":${time}${typeof constant === 'string' ? constant : constant(record)},"event":${quote ? '"' : ''}`,
    event,
    tail: accountTail(record.accountId, quote),
  };
}

let tailAccount: string | undefined;
let tailTexts = ['', ''];

/** `,"fields":{"account_id":"…"}}` (after a closing quote when `quote`): the same on every event of a poll. */
function accountTail(accountId: string, quote: boolean): string {
  if (accountId !== tailAccount) {
    tailAccount = accountId;
    // Account ids are 32 hex characters: no JSON escaping needed. Pushed zone logs may have none.
    const tail = accountId === '' ? '}' : `,"fields":{"account_id":"${accountId}"}}`;
    tailTexts = [plainString(tail), plainString(`"${tail}`)];
  }
  return tailTexts[quote ? 1 : 0] ?? '';
}

/**
 * One request body: events of `records[indices[i]]`, one per line, encoded straight into `body`
 * (no per-event strings are kept while a batch waits for its acknowledgement).
 */
export interface Chunk {
  records: readonly OutputRecord[];
  indices: number[];
  body: Buffer;
  /** `ends[i]`: the offset just past event i in `body` (a newline follows every event but the last). */
  ends: number[];
}

/**
 * Encodes `records[i]` for each i of `indices` into request bodies of at most `maxEvents`
 * events and `maxBytes` bytes (uncompressed), one chunk at a time.
 */
export function* encodeBatches(
  records: readonly OutputRecord[],
  indices: readonly number[],
  envelope: HecEnvelope,
  /** The envelope text, or a function of the record (records of several datasets, each its sourcetype). */
  constant: string | ((record: OutputRecord) => string),
  maxEvents: number,
  maxBytes: number,
): Generator<Chunk> {
  let buffer = Buffer.allocUnsafe(64 * 1024);
  let used = 0;
  let current: number[] = [];
  let ends: number[] = [];
  for (const index of indices) {
    const record = records[index];
    if (!record) continue;
    const { head, event, tail } = hecEventParts(record, envelope, constant);
    const room = (head.length + event.length + tail.length) * 3 + 1; // the most UTF-8 bytes it can take, with the newline
    buffer = withRoom(buffer, used, room);
    const start = current.length === 0 ? 0 : used + 1;
    if (current.length > 0) buffer[used] = 0x0a;
    // Written part by part: the event's text is not copied into a joined string first.
    let end = start + buffer.write(head, start);
    end += buffer.write(event, end);
    end += buffer.write(tail, end);
    if (current.length > 0 && (current.length >= maxEvents || end > maxBytes)) {
      // This event starts the next body: hand over the current one without it.
      yield { records, indices: current, body: buffer.subarray(0, used), ends };
      const next = Buffer.allocUnsafe(Math.max(64 * 1024, end - start));
      buffer.copy(next, 0, start, end);
      buffer = next;
      used = end - start;
      current = [index];
      ends = [used];
      continue;
    }
    used = end;
    current.push(index);
    ends.push(end);
  }
  if (current.length > 0) yield { records, indices: current, body: buffer.subarray(0, used), ends };
}

/** Events `from` … `to - 1` of a chunk as a chunk of their own (sharing its bytes). */
export function sliceChunk(chunk: Chunk, from: number, to: number): Chunk {
  const start = from === 0 ? 0 : (chunk.ends[from - 1] ?? 0) + 1;
  const end = chunk.ends[to - 1] ?? start;
  return {
    records: chunk.records,
    indices: chunk.indices.slice(from, to),
    body: chunk.body.subarray(start, end),
    ends: chunk.ends.slice(from, to).map((e) => e - start),
  };
}

/** A GUID derived from the output's name and URL: stable across restarts, distinct per output. */
export function stableChannel(name: string, url: string): string {
  const h = createHash('sha1').update(`cf-access-shipper\0${name}\0${url}`).digest('hex');
  const variant = ((Number.parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
