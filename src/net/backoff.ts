/** Small pure functions for retry timing (got-style): capped backoff with jitter, Retry-After. */

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
