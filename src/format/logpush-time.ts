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
    const text = String(value);
    // 1e+21 and the like are no timestamp of any format.
    return /^\d+(\.\d+)?$/.test(text) ? fromNumber(text) : undefined;
  }
  return undefined;
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
