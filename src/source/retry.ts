/** Cloudflare's retry timing: its RateLimit headers and the cooldown after a 429 (got-style pure functions). */
import { parseRetryAfter } from '../net/backoff.js';

/**
 * The longest wait any header may impose: Cloudflare blocks for 5 minutes; a proxy or a bug
 * asking for a day must not freeze every account for a day.
 */
export const MAX_SERVER_WAIT_MS = 15 * 60_000;

/**
 * The reset time in the IETF RateLimit headers Cloudflare sends: `Ratelimit: "default";r=0;t=300`
 * (draft 8+) or `RateLimit-Reset: 300` (older drafts). Milliseconds, or undefined.
 */
export function parseRateLimitReset(headers: Record<string, string | string[] | undefined>): number | undefined {
  const header = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const structured = header('ratelimit');
  if (structured !== undefined) {
    const t = /(?:^|[;,\s])t=(\d+)/.exec(structured);
    if (t) return Number(t[1]) * 1000;
    const reset = /(?:^|[;,\s])reset=(\d+)/.exec(structured);
    if (reset) return Number(reset[1]) * 1000;
  }
  const reset = header('ratelimit-reset') ?? header('x-ratelimit-reset');
  if (reset !== undefined && /^\d+$/.test(reset.trim())) return Number(reset.trim()) * 1000;
  return undefined;
}

type Headers = Record<string, string | string[] | undefined>;

function headerValue(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The tightest item of the IETF `Ratelimit` header, which is a list (`"default";r=50;t=30,
 * "burst";r=2;t=1`): the fewest requests remaining, then the latest reset. Falls back to the older
 * `RateLimit-Remaining` / `RateLimit-Reset` pair. Reset in milliseconds.
 */
export function tightestRateLimit(headers: Headers): { remaining: number; resetMs: number } | undefined {
  let tightest: { remaining: number; resetMs: number } | undefined;
  const structured = headerValue(headers, 'ratelimit');
  if (structured !== undefined) {
    for (const item of structured.split(',')) {
      const r = /(?:^|;)\s*r=(\d+)/.exec(item);
      const t = /(?:^|;)\s*t=(\d+)/.exec(item);
      if (!r || !t) continue;
      const candidate = { remaining: Number(r[1]), resetMs: Math.min(MAX_SERVER_WAIT_MS, Number(t[1]) * 1000) };
      if (
        !tightest ||
        candidate.remaining < tightest.remaining ||
        (candidate.remaining === tightest.remaining && candidate.resetMs > tightest.resetMs)
      )
        tightest = candidate;
    }
  }
  if (tightest) return tightest;
  const remaining = headerValue(headers, 'ratelimit-remaining')?.trim();
  const reset = headerValue(headers, 'ratelimit-reset')?.trim();
  if (remaining !== undefined && reset !== undefined && /^\d+$/.test(remaining) && /^\d+$/.test(reset)) {
    return { remaining: Number(remaining), resetMs: Math.min(MAX_SERVER_WAIT_MS, Number(reset) * 1000) };
  }
  return undefined;
}

/**
 * How long to stay away after a 429: `retry-after-ms` (as Cloudflare's SDK reads it), else
 * Retry-After, else the tightest RateLimit reset, else 5 minutes; never more than
 * MAX_SERVER_WAIT_MS.
 */
export function cooldownAfter429(headers: Headers, nowMs: number): number {
  const retryAfterMs = headerValue(headers, 'retry-after-ms')?.trim();
  const fromMs =
    retryAfterMs !== undefined && /^\d+(\.\d+)?$/.test(retryAfterMs) ? Math.round(Number(retryAfterMs)) : undefined;
  const retryAfter = fromMs ?? parseRetryAfter(headerValue(headers, 'retry-after'), nowMs);
  const wait = retryAfter ?? tightestRateLimit(headers)?.resetMs ?? parseRateLimitReset(headers) ?? 5 * 60_000;
  return Math.min(MAX_SERVER_WAIT_MS, wait);
}
