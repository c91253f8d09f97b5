/**
 * Cloudflare's HTTP request logs (Logpush zone dataset `http_requests`), the per-request half of
 * Access auditing: the Access identity arrives as `RequestHeaders["cf-access-user"]` once that
 * header is a Logpush custom field and `RequestHeaders` is among the job's fields. Field names as
 * Logpush writes them; every field may be missing.
 */
import { logpushTimestamp } from '../../format/logpush-time.js';
import { type EventRecord, type Outcome, valueText } from '../../format/record.js';
import { formatUtc, type Timestamp } from '../../format/time.js';

export interface HttpRequestEvent extends EventRecord {
  ClientIP?: unknown;
  ClientRequestHost?: unknown;
  ClientRequestMethod?: unknown;
  ClientRequestURI?: unknown;
  ClientRequestUserAgent?: unknown;
  ClientRequestBytes?: unknown;
  ClientCountry?: unknown;
  EdgeStartTimestamp?: unknown;
  EdgeEndTimestamp?: unknown;
  EdgeResponseStatus?: unknown;
  EdgeResponseBytes?: unknown;
  RayID?: unknown;
  RequestHeaders?: unknown;
}

export function edgeStart(event: HttpRequestEvent): Timestamp | undefined {
  return logpushTimestamp(event.EdgeStartTimestamp);
}

/** EdgeStartTimestamp as RFC 3339 with the precision it was written in. */
export function edgeStartText(event: HttpRequestEvent): string | undefined {
  const ts = edgeStart(event);
  return ts ? formatUtc(ts, ts.fractionDigits) : undefined;
}

/** The Access identity (`cf-access-user` request header), when the job logs it. */
export function accessUser(event: HttpRequestEvent): string | undefined {
  const headers = event.RequestHeaders;
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return undefined;
  for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
    if (name.toLowerCase() === 'cf-access-user') {
      const text = valueText(value)?.trim();
      return text === '' ? undefined : text;
    }
  }
  return undefined;
}

/** The edge's status as a number, or undefined. */
export function statusOf(event: HttpRequestEvent): number | undefined {
  const value = event.EdgeResponseStatus;
  const n =
    typeof value === 'number' ? value : typeof value === 'string' && /^\d{3}$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 100 && n <= 599 ? n : undefined;
}

/** Below 400: the request was served (allowed); 4xx and 5xx: refused or failed. */
export function httpOutcome(event: HttpRequestEvent): Outcome {
  const status = statusOf(event);
  return status === undefined ? 'unknown' : status < 400 ? 'allowed' : 'denied';
}

/** A non-negative integer field (bytes), or undefined. */
export function countOf(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
