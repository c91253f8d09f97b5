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
  if (typeof value === 'number' && Number.isFinite(value)) return fromNumber(String(value));
  return undefined;
}

/** From the decimal text of a number (kept as text so a nanosecond integer loses nothing more). */
function fromNumber(text: string): Timestamp | undefined {
  const [whole = '', fraction = ''] = text.split('.');
  const digits = whole.replace(/^-/, '').length;
  if (whole.startsWith('-')) return undefined;
  // Seconds until the year 5138 have at most 11 digits; ms 14, µs 17; nanoseconds beyond.
  const unitDigits = digits <= 11 ? 0 : digits <= 14 ? 3 : digits <= 17 ? 6 : 9;
  // Nanoseconds as a BigInt: whole × 10^(9 − unit) plus the fraction's share.
  const scale = 9 - unitDigits;
  const fracNanos = scale === 0 ? 0n : BigInt((fraction + '0'.repeat(scale)).slice(0, scale) || '0');
  const nanos = BigInt(whole) * 10n ** BigInt(scale) + fracNanos;
  const epochMs = Number(nanos / 1_000_000n);
  if (!Number.isSafeInteger(epochMs) || epochMs > 8.64e15) return undefined;
  const fractionDigits = unitDigits === 0 ? Math.min(9, fraction.length) : Math.min(9, unitDigits + fraction.length);
  return { epochMs, subMsNanos: Number(nanos % 1_000_000n), fractionDigits };
}
