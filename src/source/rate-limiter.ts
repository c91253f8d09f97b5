/**
 * One request budget for the whole process (every account, the daemon and a backfill): a token
 * bucket of `requests` per `per`, plus a cooldown that blocks every request after a 429, because
 * Cloudflare then blocks the token for all calls.
 */
import { type Clock, realClock } from '../clock.js';

/** Below this many remaining requests (tightest `Ratelimit` item), requests are paced. */
const LOW_BUDGET = 20;
/** Cloudflare allows 200 requests per second from one IP, whatever the user's budget. */
const PER_IP_PER_SECOND = 200;

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
  /** Pacing the server asked for (its budget runs low): one request per `paceGapMs` until `paceUntil`. */
  private paceUntil = 0;
  private paceGapMs = 0;
  private lastTakeAt = Number.NEGATIVE_INFINITY;
  /** Cloudflare's second limit, per IP: at most PER_IP_PER_SECOND requests in any second. */
  private readonly recent: number[] = [];

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

  /**
   * What an answer said of the server's budget (the tightest `Ratelimit` item). None left: wait for
   * the reset. Running low: spread what is left over the time to the reset, so the budget never
   * reaches 0 (which blocks the user's every call for 5 minutes, dashboard included).
   */
  observe(remaining: number, resetMs: number): void {
    const now = this.clock.now();
    if (remaining <= 0) {
      this.coolDown(now + resetMs, 'the API reported no requests left in its budget');
      return;
    }
    if (remaining <= LOW_BUDGET) {
      this.paceUntil = now + resetMs;
      this.paceGapMs = resetMs / remaining;
    } else if (now >= this.paceUntil || remaining > 2 * LOW_BUDGET) {
      this.paceUntil = 0;
    }
  }

  /** Milliseconds until a request may go out now, without taking a token. */
  waitTime(): number {
    this.refill();
    const now = this.clock.now();
    const cooldown = Math.max(0, this.cooldownUntil - now);
    const tokenWait = this.tokens >= 1 ? 0 : ((1 - this.tokens) * this.options.perMs) / this.options.requests;
    const paceWait = now < this.paceUntil ? Math.max(0, this.lastTakeAt + this.paceGapMs - now) : 0;
    while ((this.recent[0] ?? now) <= now - 1000) this.recent.shift();
    const oldest = this.recent[0];
    const perIpWait = oldest !== undefined && this.recent.length >= PER_IP_PER_SECOND ? oldest + 1000 - now : 0;
    return Math.max(cooldown, Math.ceil(tokenWait), Math.ceil(paceWait), Math.ceil(perIpWait));
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
      this.lastTakeAt = this.clock.now();
      this.recent.push(this.lastTakeAt);
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = now - this.updatedAt;
    if (elapsed > 0) {
      this.tokens = Math.min(
        this.options.requests,
        this.tokens + (elapsed * this.options.requests) / this.options.perMs,
      );
      this.updatedAt = now;
    }
  }
}
