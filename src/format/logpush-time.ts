/**
 * Logpush writes timestamps in the job's `timestamp_format`: `unixnano` (the API default, an
 * integer of nanoseconds), `unix` (seconds), `rfc3339` (the dashboard default), `rfc3339ms` and
 * `rfc3339ns`. A receiver cannot know which one a job uses, so each value is read by its shape:
 * RFC 3339 text, or a number whose size says its unit (s, ms, µs, ns; numeric strings too).
 * JSON numbers carry 53 bits: a unixnano value of today (~1.7e18) keeps about 256 ns.
 */
import { parseTimestamp, type Timestamp } from './time.js';

/** The instant of a Logpush timestamp, or undefined when it is none of the formats. */
export function logpushTimestamp(value: unknown): Timestamp | undefined {
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^-?\d+(\.\d+)?$/.test(text)) return fromNumber(text);
    return parseTimestamp(text);
  }
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
    // The two shapes of nearly every number Logpush sends, read without String(value): its
    // number-to-string cache makes it the dearest step of a pushed event (~400 ns for a unixnano).
    if (Number.isSafeInteger(value)) return fromSafeInteger(value);
    if (Number.isInteger(value) && value < 1e21) return fromLargeInteger(value);
    const text = String(value);
    // 1e+21 and the like are no timestamp of any format.
    return /^\d+(\.\d+)?$/.test(text) ? fromNumber(text) : undefined;
  }
  return undefined;
}

/** What fromNumber(String(value)) reads, by arithmetic (exact: every step stays an integer below 2^53). */
function fromSafeInteger(value: number): Timestamp {
  // The unit as fromNumber tells it, by the count of digits: ≤ 11 seconds, ≤ 14 ms, else µs (a safe integer has ≤ 16).
  // (+ 0: -0 reads as 0, like String(-0).)
  if (value < 1e11) return { epochMs: value * 1000 + 0, subMsNanos: 0, fractionDigits: 0 };
  if (value < 1e14) return { epochMs: value, subMsNanos: 0, fractionDigits: 3 };
  return { epochMs: Math.floor(value / 1000), subMsNanos: (value % 1000) * 1000, fractionDigits: 6 };
}

/**
 * fromNumber(String(value)) for an integer of 2^53 or more below 1e21. String(value) writes its
 * shortest round-trip digits D, then zeros; toExponential() gives the same digits (V8 runs one
 * shortest algorithm for both) without the cache, and a test holds the two equal. From 18 digits
 * on the unit is nanoseconds: the sub-millisecond part is D's last six digits, and the
 * milliseconds are (value − that) / 10^6 rounded, since D lies within half a step (≤ 65,536) of
 * value and the quotient's error stays far below one half.
 */
function fromLargeInteger(value: number): Timestamp | undefined {
  const exponential = value.toExponential();
  const e = exponential.indexOf('e');
  let exponent = 0;
  for (let i = e + 2; i < exponential.length; i++) exponent = exponent * 10 + exponential.charCodeAt(i) - 48;
  const length = exponent + 1;
  if (length < 18) return fromNumber(String(value));
  // The significant digits are exponential[0] and, past the dot, exponential[2 .. e): digit j sits at j + 1.
  const significant = e === 1 ? 1 : e - 1;
  let subMsNanos = 0;
  for (let j = length - 6; j < significant; j++) subMsNanos = subMsNanos * 10 + exponential.charCodeAt(j + 1) - 48;
  if (significant > length - 6) subMsNanos *= 10 ** (length - significant);
  return { epochMs: Math.round((value - subMsNanos) / 1e6), subMsNanos, fractionDigits: 9 };
}
/** From the decimal text of a number (kept as text so a nanosecond integer loses nothing more). */
function fromNumber(text: string): Timestamp | undefined {
  if (text.charCodeAt(0) === 45 /* - */) return undefined;
  const dot = text.indexOf('.');
  const whole = dot < 0 ? text : text.slice(0, dot);
  const fraction = dot < 0 ? '' : text.slice(dot + 1);
  const digits = whole.length;
  // Seconds until the year 5138 have at most 11 digits; ms 14, µs 17; nanoseconds beyond.
  const unitDigits = digits <= 11 ? 0 : digits <= 14 ? 3 : digits <= 17 ? 6 : 9;
  // The nanoseconds' decimal digits: the whole part, then the fraction cut or padded to the unit's
  // share (string arithmetic: exact like BigInt, and much cheaper per event).
  const scale = 9 - unitDigits;
  const nanos = whole + (fraction.length >= scale ? fraction.slice(0, scale) : fraction.padEnd(scale, '0'));
  const cut = nanos.length - 6;
  const epochMs = cut > 0 ? Number(nanos.slice(0, cut)) : 0;
  if (!Number.isSafeInteger(epochMs) || epochMs > 8.64e15) return undefined;
  const subMsNanos = Number(cut > 0 ? nanos.slice(cut) : nanos);
  const fractionDigits = unitDigits === 0 ? Math.min(9, fraction.length) : Math.min(9, unitDigits + fraction.length);
  return { epochMs, subMsNanos, fractionDigits };
}
