/**
 * A local simulator of Cloudflare's Access authentication logs API, reproducing the facts the
 * shipper must survive: `direction` desc unless asc is asked, no `result_info` (not in the
 * schema) unless a test asks for it, inclusive `since`/`until`, rows outside the window,
 * non-unique `ray_id`, large same-timestamp clusters, 429 with Retry-After and a 5-minute block,
 * 5xx, malformed pages, late events that become visible after their time, a clock of its own
 * (`Date` header), and every plausible reading of its undocumented paging (access-paging-model.ts).
 * Used by the tests, the benches and `npm run demo`. Binds to 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { AccessEvent } from '../../src/datasets/access-requests/event.js';
import { canonicalize } from '../../src/format/time.js';
import { type PagingBehaviour, pageSlice } from './access-paging-model.js';
import { makeEvent, prng, rfc3339 } from './event-factory.js';

interface StoredEvent {
  time: string;
  event: AccessEvent;
  visibleAt: number;
}

/** Events generated on demand from their index (for million-event benches without the memory). */
export interface GeneratedEvents {
  count: number;
  startNs: bigint;
  stepNs: bigint;
  seed: number;
  digits?: number;
}

export type Fault =
  | { kind: 'status'; status: number; body?: string; times?: number; account?: string }
  | { kind: '429'; retryAfter?: string; rateLimitReset?: number; times?: number; account?: string }
  | { kind: 'malformed'; times?: number; account?: string }
  | { kind: 'schema'; times?: number; account?: string }
  | { kind: 'delay'; ms: number; times?: number; account?: string }
  | { kind: 'reset'; times?: number; account?: string };

export interface SimulatorOptions {
  /** Bearer token to accept (default "sim-token"). */
  token?: string;
  /** Legacy key auth accepted too when set. */
  authEmail?: string;
  authKey?: string;
  /** Accounts whose token lacks the permission (403, code 10000). */
  forbiddenAccounts?: string[];
  /** The message of the 403 for a forbidden account (hostile text for injection tests). */
  forbiddenMessage?: string;
  /** Add a row from just outside the requested window to pages (the API does this). */
  outOfWindowRows?: boolean;
  /** Send `result_info` (not in the official schema; off by default). */
  resultInfo?: boolean;
  /** With resultInfo: report total_count 0 even on full pages (the API has done this). */
  zeroTotalCount?: boolean;
  /** `since` leaves out rows at exactly that instant (undocumented; default: includes them). */
  sinceExclusive?: boolean;
  /** How `page`, `per_page` and `limit` are read (default: honours). */
  paging?: PagingBehaviour;
  /** This server's clock minus the real one (its Date header and what it shows as visible). */
  clockOffsetMs?: number;
  /** Added to every response (to stretch a run, e.g. for crash tests). */
  latencyMs?: number;
  /** Cloudflare's limit: over `requests` per `perMs` → 429 for everything during `blockMs`. */
  rateLimit?: { requests: number; perMs: number; blockMs: number };
  /** Serve https with this certificate (as the real API does). */
  tls?: { key: Buffer; cert: Buffer };
}

export interface RequestLog {
  account: string;
  since?: string;
  until?: string;
  page: number;
  perPage: number;
  limit?: number;
  status: number;
  rows: number;
  at: number;
}

export class AccessApiSimulator {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly stores = new Map<string, StoredEvent[]>();
  private readonly generated = new Map<string, GeneratedEvents>();
  private readonly pendingVisible = new Map<string, number>();
  readonly faults: Fault[] = [];
  readonly requests: RequestLog[] = [];
  private recentRequests: number[] = [];
  private blockedUntil = 0;
  port = 0;

  constructor(readonly options: SimulatorOptions = {}) {}

  get baseUrl(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}/client/v4`;
  }

  get token(): string {
    return this.options.token ?? 'sim-token';
  }

  async start(): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    };
    const tls = this.options.tls;
    this.server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, handler) : createServer(handler);
    this.server.keepAliveTimeout = 30_000;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Adds events; `visibleAt` (epoch ms) hides them until then, like late-arriving logs. */
  addEvents(account: string, events: readonly AccessEvent[], options: { visibleAt?: number } = {}): void {
    const store = this.stores.get(account) ?? [];
    for (const event of events) {
      const time = canonicalize(String(event.created_at));
      if (time === undefined) throw new Error(`simulator: bad created_at ${String(event.created_at)}`);
      store.push({ time, event, visibleAt: options.visibleAt ?? 0 });
    }
    store.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    this.stores.set(account, store);
    if (options.visibleAt !== undefined)
      this.pendingVisible.set(account, Math.max(this.pendingVisible.get(account) ?? 0, options.visibleAt));
  }

  /** Serves `count` events computed from their index (no memory per event). */
  setGenerated(account: string, spec: GeneratedEvents): void {
    this.generated.set(account, spec);
  }

  /** All events of an account currently stored (explicit store only). */
  events(account: string): AccessEvent[] {
    return (this.stores.get(account) ?? []).map((s) => s.event);
  }

  private pools = new WeakMap<GeneratedEvents, AccessEvent[]>();

  /** Event `index` of a generated account: one of 997 realistic bodies, with its own time and ray_id. */
  generatedEvent(spec: GeneratedEvents, index: number): AccessEvent {
    let pool = this.pools.get(spec);
    if (!pool) {
      pool = Array.from({ length: 997 }, (_, k) => makeEvent(prng(spec.seed * 1_000_003 + k), { atNs: spec.startNs }));
      this.pools.set(spec, pool);
    }
    const atNs = spec.startNs + spec.stepNs * BigInt(index);
    return {
      ...pool[index % pool.length],
      created_at: rfc3339(atNs, spec.digits ?? 6),
      ray_id: index.toString(16).padStart(16, '0'),
    };
  }

  private takeFault(account: string): Fault | undefined {
    const index = this.faults.findIndex((f) => f.account === undefined || f.account === account);
    if (index === -1) return undefined;
    const fault = this.faults[index]!;
    const times = (fault.times ?? 1) - 1;
    if (times <= 0) this.faults.splice(index, 1);
    else fault.times = times;
    return fault;
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const match = /^\/client\/v4\/accounts\/([^/]+)\/access\/logs\/access_requests$/.exec(url.pathname);
    const q = url.searchParams;
    const page = Number(q.get('page') ?? 1);
    const perPage = Number(q.get('per_page') ?? q.get('limit') ?? 25);
    const number = (name: string): number | undefined => (q.get(name) === null ? undefined : Number(q.get(name)));
    const params = { page: number('page'), perPage: number('per_page'), limit: number('limit') };
    const log: RequestLog = { account: match?.[1] ?? '', page, perPage, status: 0, rows: 0, at: Date.now() };
    if (params.limit !== undefined) log.limit = params.limit;
    if (q.get('since') !== null) log.since = q.get('since')!;
    if (q.get('until') !== null) log.until = q.get('until')!;
    this.requests.push(log);
    const reply = (status: number, body: unknown, headers?: Record<string, string>): void => {
      log.status = status;
      this.send(res, status, body, { date: new Date(this.now()).toUTCString(), ...headers });
    };
    if (req.method !== 'GET' || !match)
      return reply(404, {
        success: false,
        errors: [{ code: 7003, message: 'No route for the URI' }],
        messages: [],
        result: null,
      });
    const account = decodeURIComponent(match[1]!);

    // Cloudflare's global limit: past it, every call is refused until the block ends.
    const now = Date.now();
    if (this.options.rateLimit) {
      const { requests, perMs, blockMs } = this.options.rateLimit;
      this.recentRequests = this.recentRequests.filter((t) => t > now - perMs);
      this.recentRequests.push(now);
      if (now < this.blockedUntil || this.recentRequests.length > requests) {
        if (now >= this.blockedUntil) this.blockedUntil = now + blockMs;
        const wait = Math.ceil((this.blockedUntil - now) / 1000);
        return reply(
          429,
          {
            success: false,
            errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }],
            messages: [],
            result: null,
          },
          {
            'retry-after': String(wait),
            ratelimit: `"default";r=0;t=${wait}`,
            'ratelimit-policy': `"default";q=${requests};w=${perMs / 1000}`,
          },
        );
      }
    }

    const auth = req.headers.authorization;
    const keyAuth =
      this.options.authKey !== undefined &&
      req.headers['x-auth-key'] === this.options.authKey &&
      req.headers['x-auth-email'] === this.options.authEmail;
    if (!keyAuth && auth !== `Bearer ${this.token}`) {
      return reply(auth === undefined ? 400 : 403, {
        success: false,
        errors: [
          {
            code: auth === undefined ? 6003 : 10000,
            message: auth === undefined ? 'Invalid request headers' : 'Authentication error',
          },
        ],
        messages: [],
        result: null,
      });
    }
    if (this.options.forbiddenAccounts?.includes(account)) {
      return reply(403, {
        success: false,
        errors: [{ code: 10000, message: this.options.forbiddenMessage ?? 'Authentication error' }],
        messages: [],
        result: null,
      });
    }

    const fault = this.takeFault(account);
    if (fault) {
      switch (fault.kind) {
        case 'status':
          return reply(fault.status, fault.body ?? `<html><body><h1>${fault.status}</h1>cloudflare</body></html>`, {
            'content-type': 'text/html',
          });
        case '429': {
          const headers: Record<string, string> = {};
          if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
          if (fault.rateLimitReset !== undefined) headers.ratelimit = `"default";r=0;t=${fault.rateLimitReset}`;
          return reply(
            429,
            {
              success: false,
              errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }],
              messages: [],
              result: null,
            },
            headers,
          );
        }
        case 'malformed':
          return reply(200, '{"success":true,"errors":[],"result":[{"user_email":"trunc');
        case 'schema':
          return reply(200, { success: true, errors: [], messages: [], result: 'not a list' });
        case 'reset':
          req.socket.destroy();
          log.status = -1;
          return;
        case 'delay':
          await new Promise((resolve) => setTimeout(resolve, fault.ms));
          break;
      }
    }

    if (this.options.latencyMs) await new Promise((resolve) => setTimeout(resolve, this.options.latencyMs));
    const since = q.get('since') === null ? undefined : canonicalize(q.get('since')!);
    const until = q.get('until') === null ? undefined : canonicalize(q.get('until')!);
    const desc = q.get('direction') !== 'asc'; // the API's default is desc
    const refusal = {
      success: false,
      errors: [{ code: 12091, message: 'access.api.error.invalid_url_parameter_value' }],
      messages: [],
      result: null,
    };
    const resultInfo = (count: number, total: number): string =>
      this.options.resultInfo
        ? `,"result_info":${JSON.stringify({ page, per_page: perPage, count, total_count: this.options.zeroTotalCount ? 0 : total })}`
        : '';
    const generated = this.generated.get(account);
    if (generated && !desc) {
      // Million-event benches: the page is written as JSON text directly (the same bytes as
      // JSON.stringify of the objects), so the simulator's CPU stays small next to the shipper's.
      const { first, last } = this.generatedRange(generated, since, until);
      const slice = pageSlice(last - first, params, this.paging);
      if ('refused' in slice) return reply(400, refusal);
      const lo = first + slice.from;
      const hi = first + slice.to;
      log.rows = hi - lo;
      return reply(
        200,
        `{"success":true,"errors":[],"messages":[],"result":[${this.generatedText(generated, lo, hi)}]${resultInfo(hi - lo, last - first)}}`,
      );
    }
    const answer = this.query(account, since, until, params, desc);
    if ('refused' in answer) return reply(400, refusal);
    log.rows = answer.rows.length;
    reply(
      200,
      `{"success":true,"errors":[],"messages":[],"result":${JSON.stringify(answer.rows)}${resultInfo(answer.rows.length, answer.total)}}`,
    );
  }

  private get paging(): PagingBehaviour {
    return this.options.paging ?? { mode: 'honours' };
  }

  /** This server's clock. */
  now(): number {
    return Date.now() + (this.options.clockOffsetMs ?? 0);
  }

  private query(
    account: string,
    since: string | undefined,
    until: string | undefined,
    params: Parameters<typeof pageSlice>[1],
    desc: boolean,
  ): { rows: AccessEvent[]; total: number } | { refused: true } {
    const spec = this.generated.get(account);
    if (spec) {
      const { first, last } = this.generatedRange(spec, since, until);
      const slice = pageSlice(last - first, params, this.paging);
      if ('refused' in slice) return { refused: true };
      const rows: AccessEvent[] = [];
      for (let i = slice.from; i < slice.to; i++) rows.push(this.generatedEvent(spec, desc ? last - 1 - i : first + i));
      return { rows, total: last - first };
    }
    const store = this.stores.get(account) ?? [];
    // Both ends inclusive (unless sinceExclusive), as the real API may be.
    const lo =
      since === undefined ? 0 : this.options.sinceExclusive ? upperBound(store, since) : lowerBound(store, since);
    const hi = until === undefined ? store.length : upperBound(store, until);
    let window = store.slice(lo, hi);
    const now = this.now();
    if ((this.pendingVisible.get(account) ?? 0) > now) window = window.filter((s) => s.visibleAt <= now);
    if (desc) window.reverse();
    const slice = pageSlice(window.length, params, this.paging);
    if ('refused' in slice) return { refused: true };
    const rows = window.slice(slice.from, slice.to).map((s) => s.event);
    if (this.options.outOfWindowRows && rows.length > 0) {
      const before = lo > 0 ? store[lo - 1] : undefined;
      const after = hi < store.length ? store[hi] : undefined;
      if (before && before.visibleAt <= now) rows.unshift(before.event);
      if (after && after.visibleAt <= now) rows.push(after.event);
    }
    return { rows, total: window.length };
  }

  /** Indexes `[first, last)` of the generated events inside the window (both ends inclusive). */
  private generatedRange(
    spec: GeneratedEvents,
    since: string | undefined,
    until: string | undefined,
  ): { first: number; last: number } {
    const indexAt = (canonical: string, inclusiveUpper: boolean): number => {
      const ns = canonicalNs(canonical) - spec.startNs;
      if (ns < 0n) return 0;
      const idx = inclusiveUpper ? ns / spec.stepNs + 1n : (ns + spec.stepNs - 1n) / spec.stepNs;
      return Number(idx > BigInt(spec.count) ? BigInt(spec.count) : idx);
    };
    const first = since === undefined ? 0 : indexAt(since, this.options.sinceExclusive === true);
    const last = until === undefined ? spec.count : indexAt(until, true);
    return { first, last: Math.max(first, last) };
  }

  private templates = new WeakMap<GeneratedEvents, string[][]>();

  /** JSON of events `[lo, hi)`, comma-separated: each pool body as text with its time and ray_id spliced in. */
  private generatedText(spec: GeneratedEvents, lo: number, hi: number): string {
    let templates = this.templates.get(spec);
    if (!templates) {
      const pool = Array.from({ length: 997 }, (_, k) => this.generatedEvent(spec, k));
      templates = pool.map((event) =>
        JSON.stringify({ ...event, created_at: '\u0000', ray_id: '\u0000' }).split('"\\u0000"'),
      );
      this.templates.set(spec, templates);
    }
    // Times in plain numbers: seconds and nanoseconds of the start and of the step.
    const startSec = Number(spec.startNs / 1_000_000_000n);
    const startNanos = Number(spec.startNs % 1_000_000_000n);
    const stepSec = Number(spec.stepNs / 1_000_000_000n);
    const stepNanos = Number(spec.stepNs % 1_000_000_000n);
    const digits = spec.digits ?? 6;
    let second = NaN;
    let secondText = '';
    let text = '';
    for (let i = lo; i < hi; i++) {
      const [before = '', between = '', after = ''] = templates[i % templates.length] ?? [];
      const nanosSum = startNanos + i * stepNanos;
      const carry = Math.floor(nanosSum / 1e9);
      const sec = startSec + i * stepSec + carry;
      if (sec !== second) {
        second = sec;
        secondText = new Date(sec * 1000).toISOString().slice(0, 19);
      }
      const createdAt =
        digits === 0 ? `${secondText}Z` : `${secondText}.${String(1e9 + nanosSum - carry * 1e9).slice(1, 1 + digits)}Z`;
      text += `${i === lo ? '' : ','}${before}"${createdAt}"${between}"${i.toString(16).padStart(16, '0')}"${after}`;
    }
    return text;
  }
}

function canonicalNs(canonical: string): bigint {
  const ms = BigInt(Date.parse(canonical.slice(0, 19) + 'Z'));
  return ms * 1_000_000n + BigInt(canonical.slice(20, 29));
}

function lowerBound(store: readonly StoredEvent[], time: string): number {
  let lo = 0;
  let hi = store.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (store[mid]!.time < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(store: readonly StoredEvent[], time: string): number {
  let lo = 0;
  let hi = store.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (store[mid]!.time <= time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Events spread evenly over [fromMs, toMs), some sharing a ray_id, with 5 fractional digits. */
export function spreadEvents(count: number, fromMs: number, toMs: number, seed = 7): AccessEvent[] {
  const rand = prng(seed);
  const events: AccessEvent[] = [];
  const step = (toMs - fromMs) / Math.max(1, count);
  let sharedRay: string | undefined;
  for (let i = 0; i < count; i++) {
    const atNs = BigInt(Math.floor((fromMs + i * step) * 1e6)) + BigInt(Math.floor(rand() * 1e6));
    // Every tenth event repeats the previous ray_id (one request, several rows).
    const event = makeEvent(rand, { atNs, digits: 5, rayId: i % 10 === 9 ? sharedRay : undefined });
    sharedRay = String(event.ray_id);
    events.push(event);
  }
  return events;
}

/** `count` distinct events all at exactly one created_at. */
export function clusterEvents(count: number, atMs: number, seed = 11): AccessEvent[] {
  const rand = prng(seed);
  const atNs = BigInt(atMs) * 1_000_000n + 123_450_000n;
  return Array.from({ length: count }, (_, i) => ({
    ...makeEvent(rand, { atNs, digits: 5 }),
    user_email: `cluster-${i}@example.com`,
  }));
}

export { rfc3339 };
