/** Small pure functions for retry timing (got-style): backoff, Retry-After, RateLimit headers. */

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

/**
 * Capped exponential backoff with full jitter: a random delay in [0.5, 1] × min(cap, base × 2^attempt).
 * `attempt` starts at 0; `random` is injectable for tests.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** Retry-After as seconds or an HTTP date; milliseconds from `nowMs`, or undefined. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

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

/** How long to stay away after a 429: Retry-After, else the RateLimit reset, else 5 minutes. */
export function cooldownAfter429(headers: Record<string, string | string[] | undefined>, nowMs: number): number {
  const retryAfterHeader = headers['retry-after'];
  const retryAfter = parseRetryAfter(Array.isArray(retryAfterHeader) ? retryAfterHeader[0] : retryAfterHeader, nowMs);
  return retryAfter ?? parseRateLimitReset(headers) ?? 5 * 60_000;
}
