/**
 * One request budget for the whole process (every account, the daemon and a backfill): a token
 * bucket of `requests` per `per`, plus a cooldown that blocks every request after a 429, because
 * Cloudflare then blocks the token for all calls.
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

export interface RateLimiterOptions {
  requests: number;
  perMs: number;
  clock?: Clock;
  /** Called when a cooldown starts, so it can be persisted. */
  onCooldown?: (untilMs: number, reason: string) => void;
}

export class RateLimiter {
  private tokens: number;
  private updatedAt: number;
  private cooldownUntil = 0;
  private readonly clock: Clock;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: RateLimiterOptions) {
    this.clock = options.clock ?? realClock;
    this.tokens = options.requests;
    this.updatedAt = this.clock.now();
  }

  get cooldownEndsAt(): number {
    return this.cooldownUntil;
  }

  /** Blocks every request until `untilMs` (a 429, or one persisted by a previous run). */
  coolDown(untilMs: number, reason: string): void {
    if (untilMs <= this.cooldownUntil) return;
    this.cooldownUntil = untilMs;
    this.options.onCooldown?.(untilMs, reason);
  }

  /** Milliseconds until a request may go out now, without taking a token. */
  waitTime(): number {
    this.refill();
    const cooldown = Math.max(0, this.cooldownUntil - this.clock.now());
    const tokenWait = this.tokens >= 1 ? 0 : ((1 - this.tokens) * this.options.perMs) / this.options.requests;
    return Math.max(cooldown, Math.ceil(tokenWait));
  }

  /** Waits for a token (and the end of any cooldown); callers are served in order. */
  take(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(async () => {
      for (;;) {
        const wait = this.waitTime();
        if (wait <= 0) break;
        await this.clock.sleep(wait, signal);
      }
      this.tokens -= 1;
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = now - this.updatedAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.options.requests, this.tokens + (elapsed * this.options.requests) / this.options.perMs);
      this.updatedAt = now;
    }
  }
}
