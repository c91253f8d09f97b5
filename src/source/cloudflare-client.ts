/**
 * Client for `GET {base_url}/accounts/{id}/access/logs/access_requests` (got 14). Every request
 * takes a token from the shared RateLimiter; 429 starts a process-wide cooldown; 5xx, timeouts,
 * connection errors and malformed pages are retried with capped backoff; auth errors are not.
 */
import got, { RequestError } from 'got';
import { proxyRefusal, proxyRefusedIn, routeAgents } from '../net/proxy-agent.js';
import type { ProxyRoute } from '../net/proxy.js';
import { isEventRecord } from '../format/record.js';
import { type AccessEvent } from '../datasets/access-requests/event.js';
import { newServerTraits, type ServerTraits } from './access-pager.js';
import {
  type ApiErrorDetail,
  CloudflareAuthError,
  CloudflareParameterError,
  CloudflareProxyError,
  CloudflareRequestError,
  CloudflareUnavailableError,
} from './cloudflare-errors.js';
import { type Clock, realClock } from '../clock.js';
import { backoffDelay } from '../net/backoff.js';
import { RateLimiter } from './rate-limiter.js';
import { cooldownAfter429, tightestRateLimit } from './retry.js';

export type CloudflareAuth = { kind: 'token'; token: string } | { kind: 'key'; email: string; key: string };

export interface CloudflareClientOptions {
  baseUrl: string;
  auth: CloudflareAuth;
  requestTimeoutMs: number;
  limiter: RateLimiter;
  clock?: Clock;
  /** Attempts per page before giving up on this poll (default 6). */
  maxAttempts?: number;
  backoff?: { baseMs: number; capMs: number };
  /** Called for each retry, for logs and metrics. */
  onRetry?: (info: { account: string; attempt: number; delayMs: number; reason: string; status?: number }) => void;
  onResponse?: (status: number) => void;
  userAgent?: string;
  /** Direct, or through an HTTP proxy (see net/proxy.ts); default direct. */
  proxy?: ProxyRoute;
}

export interface PageRequest {
  accountId: string;
  accountLabel: string;
  /** RFC 3339 (millisecond precision) inclusive lower bound sent to the API. */
  since: string;
  until: string;
  page: number;
  perPage: number;
  /** Sent as `limit` (default: perPage). */
  limit?: number;
  signal?: AbortSignal;
  /** An extra budget this request must also fit (an output's catch-up read takes a share of the limiter's). */
  budget?: RequestBudget;
}

/** Something a request waits on before it goes out. */
export interface RequestBudget {
  take(signal?: AbortSignal): Promise<void>;
}

export interface Page {
  events: AccessEvent[];
  /** HTTP requests this page took, retries included. */
  requests: number;
  /** The API's clock (its `Date` header, whole seconds), when it sent one. */
  serverDateMs?: number;
  /** Our clock when the answer arrived. */
  receivedAtMs: number;
}

const AUTH_CODES = new Set([10000, 9109, 6003, 6111, 6103, 9106, 9107, 10001]);

/** A problem worth retrying, with an optional minimum wait (429). */
class Retryable extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export class CloudflareClient {
  private readonly http: ReturnType<typeof routeAgents>;
  private readonly proxy: ProxyRoute;
  private readonly clock: Clock;
  /** What the API has shown about its paging, shared by every window this client reads. */
  readonly traits: ServerTraits = newServerTraits();

  constructor(private readonly options: CloudflareClientOptions) {
    this.clock = options.clock ?? realClock;
    this.proxy = options.proxy ?? { kind: 'direct', why: 'no proxy set' };
    this.http = routeAgents(this.proxy);
  }

  close(): void {
    this.http.http.destroy();
    this.http.https.destroy();
  }

  private headers(): Record<string, string> {
    const auth = this.options.auth;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.options.userAgent ?? 'cf-access-shipper',
    };
    if (auth.kind === 'token') headers.authorization = `Bearer ${auth.token}`;
    else {
      headers['x-auth-email'] = auth.email;
      headers['x-auth-key'] = auth.key;
    }
    return headers;
  }

  async fetchPage(request: PageRequest): Promise<Page> {
    const maxAttempts = this.options.maxAttempts ?? 6;
    const backoff = this.options.backoff ?? { baseMs: 1000, capMs: 60_000 };
    let lastProblem = '';
    let lastError: unknown;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      await request.budget?.take(request.signal);
      await this.options.limiter.take(request.signal);
      try {
        const answer = await this.requestOnce(request);
        return { ...answer, requests: attempt + 1 };
      } catch (error) {
        if (!(error instanceof Retryable)) throw error;
        lastProblem = error.message;
        lastError = error;
        if (attempt + 1 >= maxAttempts) break;
        const delayMs =
          error.status === 429
            ? Math.max(0, this.options.limiter.cooldownEndsAt - this.clock.now())
            : backoffDelay(attempt, backoff);
        this.options.onRetry?.({
          account: request.accountLabel,
          attempt: attempt + 1,
          delayMs,
          reason: error.message,
          status: error.status,
        });
        // After a 429 the limiter itself waits out the cooldown on the next take().
        if (error.status !== 429) await this.clock.sleep(delayMs, request.signal);
      }
    }
    throw new CloudflareUnavailableError(request.accountLabel, maxAttempts, lastProblem, { cause: lastError });
  }

  private async requestOnce(request: PageRequest): Promise<Omit<Page, 'requests'>> {
    const url = `${this.options.baseUrl.replace(/\/+$/, '')}/accounts/${encodeURIComponent(request.accountId)}/access/logs/access_requests`;
    let response;
    try {
      response = await got(url, {
        searchParams: {
          direction: 'asc',
          since: request.since,
          until: request.until,
          page: request.page,
          per_page: request.perPage,
          limit: request.limit ?? request.perPage,
        },
        headers: this.headers(),
        timeout: { request: this.options.requestTimeoutMs },
        retry: { limit: 0 },
        throwHttpErrors: false,
        responseType: 'text',
        agent: this.http,
        signal: request.signal,
      });
    } catch (error) {
      if (request.signal?.aborted) throw error;
      this.options.onResponse?.(0);
      const refused = proxyRefusedIn(error);
      if (refused?.code === 'ERR_PROXY_AUTH')
        throw new CloudflareProxyError(request.accountLabel, refused.message, { cause: error });
      if (refused) throw new Retryable(refused.message);
      if (error instanceof RequestError) throw new Retryable(`${error.code}: ${error.message}`);
      throw error;
    }
    const status = response.statusCode;
    const receivedAtMs = this.clock.now();
    this.options.onResponse?.(status);
    // Only a proxy answers 407 (an http base_url goes through it as a plain request).
    if (status === 407 && this.proxy.kind === 'proxy')
      throw new CloudflareProxyError(
        request.accountLabel,
        proxyRefusal(407, response.statusMessage ?? '', this.proxy, new URL(url).host),
      );
    const envelope = parseEnvelope(response.body);
    const errors = envelope?.errors ?? [];
    // Every answer says how much of the budget is left: slow down before it runs out.
    const budget = tightestRateLimit(response.headers);
    if (budget && status !== 429) this.options.limiter.observe(budget.remaining, budget.resetMs);
    if (status === 429 || errors.some((e) => e.code === 971)) {
      const cooldownMs = cooldownAfter429(response.headers, this.clock.now());
      this.options.limiter.coolDown(this.clock.now() + cooldownMs, `HTTP 429 for account ${request.accountLabel}`);
      throw new Retryable(`rate limited (HTTP 429), cooling down ${Math.round(cooldownMs / 1000)} s`, 429);
    }
    if (status === 401 || status === 403 || (status >= 400 && errors.some((e) => AUTH_CODES.has(e.code)))) {
      throw new CloudflareAuthError(request.accountLabel, status, errors);
    }
    if (status === 400 && errors.some((e) => e.code === 12091))
      throw new CloudflareParameterError(
        request.accountLabel,
        { per_page: request.perPage, limit: request.limit ?? request.perPage },
        errors,
      );
    if (status >= 500 || status === 408)
      throw new Retryable(`HTTP ${status}${errors.length ? ` (${errors.map((e) => e.code).join(', ')})` : ''}`, status);
    if (status >= 400) throw new CloudflareRequestError(request.accountLabel, status, errors);
    if (!envelope)
      throw new Retryable(
        `HTTP ${status} with a body that is not JSON (${JSON.stringify(response.body.slice(0, 60))}…)`,
        status,
      );
    if (envelope.success !== true)
      throw new Retryable(
        `HTTP ${status} but success is not true (${errors.map((e) => `${e.code}: ${e.message}`).join('; ') || 'no errors given'})`,
        status,
      );
    if (!Array.isArray(envelope.result)) throw new Retryable(`HTTP ${status} but "result" is not a list`, status);
    const bad = envelope.result.findIndex((row) => !isEventRecord(row));
    if (bad !== -1) throw new Retryable(`HTTP ${status} but result[${bad}] is not an event object`, status);
    const date = typeof response.headers.date === 'string' ? Date.parse(response.headers.date) : NaN;
    return {
      events: envelope.result as AccessEvent[],
      receivedAtMs,
      ...(Number.isNaN(date) ? {} : { serverDateMs: date }),
    };
  }
}

interface Envelope {
  success?: unknown;
  errors?: ApiErrorDetail[];
  result?: unknown;
}

function parseEnvelope(body: string): Envelope | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isEventRecord(raw)) return undefined;
  const errors = Array.isArray(raw.errors)
    ? raw.errors.filter(isEventRecord).map((e) => ({
        code: typeof e.code === 'number' ? e.code : Number(e.code),
        message: typeof e.message === 'string' ? e.message : JSON.stringify(e.message),
      }))
    : [];
  return { success: raw.success, errors, result: raw.result };
}
