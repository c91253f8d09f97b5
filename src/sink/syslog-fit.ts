/**
 * Fitting a syslog record into `max_message_bytes` without breaking it: the header stays whole
 * (structured data is dropped first if it alone is too big), a CEF message is cut between
 * extension pairs, a JSON message has its longest strings shortened (and `"cf_truncated":true`
 * added) so it stays JSON. Framing (RFC 6587) is applied last, by FramedBuffer.
 */
import { truncateUtf8, utf8Length } from '../format/text.js';
import { withRoom } from './bytes.js';

export type MessageKind = 'cef' | 'json' | 'ecs';

export interface Fitted {
  text: string;
  truncated: boolean;
}

/** The longest prefix of a CEF line, within `budget` bytes, that ends between two extension pairs. */
export function fitCef(msg: string, budget: number): string {
  if (utf8Length(msg) <= budget) return msg;
  // The extension starts after the 7th unescaped "|".
  let pipes = 0;
  let extStart = -1;
  for (let i = 0; i < msg.length; i++) {
    if (msg[i] === '\\') {
      i++;
      continue;
    }
    if (msg[i] === '|' && ++pipes === 7) {
      extStart = i + 1;
      break;
    }
  }
  if (extStart === -1 || utf8Length(msg.slice(0, extStart)) > budget) return truncateUtf8(msg, budget);
  // Pair boundaries: a space followed by `key=` (keys are never escaped, `=` in values always is).
  let best = extStart;
  const boundary = / (?=[A-Za-z0-9_]+=)/g;
  for (const match of msg.slice(extStart).matchAll(boundary)) {
    const end = extStart + match.index;
    if (utf8Length(msg.slice(0, end)) > budget) break;
    best = end;
  }
  return msg.slice(0, best);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Shortens the longest string values of a JSON message until it fits; undefined if it cannot. */
export function fitJson(msg: string, budget: number): string | undefined {
  let doc: Json;
  try {
    doc = JSON.parse(msg) as Json;
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  doc.cf_truncated = true;
  for (let round = 0; round < 50; round++) {
    const text = JSON.stringify(doc);
    const excess = utf8Length(text) - budget;
    if (excess <= 0) return text;
    const longest = longestString(doc);
    if (!longest || longest.length === 0) return undefined;
    const current = longest.get();
    const keep = Math.max(0, utf8Length(current) - excess - 3);
    longest.set(`${truncateUtf8(current, keep)}…`);
    if (keep === 0 && current.length <= 1) return undefined;
  }
  return undefined;
}

interface StringRef {
  length: number;
  get(): string;
  set(value: string): void;
}

function longestString(node: Json): StringRef | undefined {
  let best: StringRef | undefined;
  const visit = (value: Json, setter: (v: string) => void): void => {
    if (typeof value === 'string') {
      const length = utf8Length(value);
      if (!best || length > best.length) best = { length, get: () => value, set: setter };
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => visit(item, (v) => (value[i] = v)));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) visit(item, (v) => (value[key] = v));
    }
  };
  visit(node, () => undefined);
  return best;
}

/**
 * Header + message within `maxBytes`. `headerWithoutSd` is used when the header (with its
 * structured data) would leave less than half the room for the message.
 */
export function fitRecord(
  header: string,
  msg: string,
  kind: MessageKind,
  maxBytes: number,
  headerWithoutSd?: () => string,
): Fitted {
  const full = header + msg;
  if (utf8Length(full) <= maxBytes) return { text: full, truncated: false };
  let head = header;
  if (headerWithoutSd && utf8Length(head) > maxBytes / 2) head = headerWithoutSd();
  const budget = Math.max(0, maxBytes - utf8Length(head));
  let body: string;
  if (kind === 'cef') body = fitCef(msg, budget);
  else body = fitJson(msg, budget) ?? truncateUtf8(msg, budget);
  return { text: truncateUtf8(head + body, maxBytes), truncated: true };
}

/**
 * Frames records (RFC 6587: octet counting `LEN SP MSG`, or a trailing LF) into one buffer, each
 * encoded straight into it: no framed string per record and no joined batch string, which for
 * 1,000 records is a large object V8 allocates in the old generation.
 */
export class FramedBuffer {
  private buffer: Buffer<ArrayBuffer>;
  private used = 0;
  count = 0;

  constructor(
    private readonly framing: 'octet-counting' | 'lf',
    initialBytes = 64 * 1024,
  ) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  get bytes(): number {
    return this.used;
  }

  /** Appends the record `header + msg`. */
  add(header: string, msg: string): void {
    // Room for the worst case: 3 bytes per UTF-16 unit, a length prefix of up to 16 digits, LF.
    this.buffer = withRoom(this.buffer, this.used, (header.length + msg.length) * 3 + 18);
    if (this.framing === 'lf') {
      this.used += this.buffer.write(header, this.used);
      this.used += this.buffer.write(msg, this.used);
      this.buffer[this.used++] = 0x0a;
    } else {
      // The prefix is the byte length, known only after encoding: guess it from the character
      // count (exact for ASCII) and move the record if the guess was short or long.
      const guess = String(header.length + msg.length).length + 1;
      const start = this.used + guess;
      let end = start + this.buffer.write(header, start);
      end += this.buffer.write(msg, end);
      const prefix = `${end - start} `;
      if (prefix.length !== guess) {
        this.buffer.copyWithin(this.used + prefix.length, start, end);
        end += prefix.length - guess;
      }
      this.buffer.write(prefix, this.used, 'latin1');
      this.used = end;
    }
    this.count++;
  }

  /** The framed records so far; the writer starts over with a fresh buffer. */
  take(): Buffer {
    const data = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafe(Math.max(64 * 1024, this.buffer.length));
    this.used = 0;
    this.count = 0;
    return data;
  }
}
