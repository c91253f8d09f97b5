/**
 * A local simulator of Cloudflare's Access authentication logs API, reproducing the facts the
 * shipper must survive: inclusive `since`/`until`, rows outside the window, `total_count` 0 on
 * full pages, non-unique `ray_id`, large same-timestamp clusters, 429 with Retry-After and a
 * 5-minute block, 5xx, malformed pages, and late events that become visible after their time.
 * Used by the tests, the benches and `npm run demo`. Binds to 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AccessEvent } from '../../src/format/event.js';
import { canonicalize } from '../../src/format/time.js';
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
  /** Add a row from just outside the requested window to pages (the API does this). */
  outOfWindowRows?: boolean;
  /** Report total_count 0 even on full pages (the API does this). */
  zeroTotalCount?: boolean;
  /** Added to every response (to stretch a run, e.g. for crash tests). */
  latencyMs?: number;
  /** Cloudflare's limit: over `requests` per `perMs` → 429 for everything during `blockMs`. */
  rateLimit?: { requests: number; perMs: number; blockMs: number };
}

export interface RequestLog {
  account: string;
  since?: string;
  until?: string;
  page: number;
  perPage: number;
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
    return `http://127.0.0.1:${this.port}/client/v4`;
  }

  get token(): string {
    return this.options.token ?? 'sim-token';
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    });
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
    if (options.visibleAt !== undefined) this.pendingVisible.set(account, Math.max(this.pendingVisible.get(account) ?? 0, options.visibleAt));
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
    return { ...pool[index % pool.length], created_at: rfc3339(atNs, spec.digits ?? 6), ray_id: index.toString(16).padStart(16, '0') };
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
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const match = /^\/client\/v4\/accounts\/([^/]+)\/access\/logs\/access_requests$/.exec(url.pathname);
    const q = url.searchParams;
    const page = Number(q.get('page') ?? 1);
    const perPage = Number(q.get('per_page') ?? q.get('limit') ?? 25);
    const log: RequestLog = { account: match?.[1] ?? '', page, perPage, status: 0, rows: 0, at: Date.now() };
    if (q.get('since') !== null) log.since = q.get('since')!;
    if (q.get('until') !== null) log.until = q.get('until')!;
    this.requests.push(log);
    const reply = (status: number, body: unknown, headers?: Record<string, string>): void => {
      log.status = status;
      this.send(res, status, body, headers);
    };
    if (req.method !== 'GET' || !match) return reply(404, { success: false, errors: [{ code: 7003, message: 'No route for the URI' }], messages: [], result: null });
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
        return reply(429, { success: false, errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }], messages: [], result: null }, { 'retry-after': String(wait), ratelimit: `"default";r=0;t=${wait}`, 'ratelimit-policy': `"default";q=${requests};w=${perMs / 1000}` });
      }
    }

    const auth = req.headers.authorization;
    const keyAuth = this.options.authKey !== undefined && req.headers['x-auth-key'] === this.options.authKey && req.headers['x-auth-email'] === this.options.authEmail;
    if (!keyAuth && auth !== `Bearer ${this.token}`) {
      return reply(auth === undefined ? 400 : 403, { success: false, errors: [{ code: auth === undefined ? 6003 : 10000, message: auth === undefined ? 'Invalid request headers' : 'Authentication error' }], messages: [], result: null });
    }
    if (this.options.forbiddenAccounts?.includes(account)) {
      return reply(403, { success: false, errors: [{ code: 10000, message: 'Authentication error' }], messages: [], result: null });
    }

    const fault = this.takeFault(account);
    if (fault) {
      switch (fault.kind) {
        case 'status':
          return reply(fault.status, fault.body ?? `<html><body><h1>${fault.status}</h1>cloudflare</body></html>`, { 'content-type': 'text/html' });
        case '429': {
          const headers: Record<string, string> = {};
          if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
          if (fault.rateLimitReset !== undefined) headers.ratelimit = `"default";r=0;t=${fault.rateLimitReset}`;
          return reply(429, { success: false, errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }], messages: [], result: null }, headers);
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
    const generated = this.generated.get(account);
    if (generated && q.get('direction') !== 'desc') {
      // Million-event benches: the page is written as JSON text directly (the same bytes as
      // JSON.stringify of the objects), so the simulator's CPU stays small next to the shipper's.
      const { lo, hi, total } = this.generatedRange(generated, since, until, (page - 1) * perPage, perPage);
      log.rows = hi - lo;
      const info = { page, per_page: perPage, count: hi - lo, total_count: this.options.zeroTotalCount ? 0 : total };
      return reply(200, `{"success":true,"errors":[],"messages":[],"result":[${this.generatedText(generated, lo, hi)}],"result_info":${JSON.stringify(info)}}`);
    }
    const { rows, total } = this.query(account, since, until, page, perPage, q.get('direction') === 'desc');
    log.rows = rows.length;
    reply(200, {
      success: true,
      errors: [],
      messages: [],
      result: rows,
      result_info: { page, per_page: perPage, count: rows.length, total_count: this.options.zeroTotalCount ? 0 : total },
    });
  }

  private query(account: string, since: string | undefined, until: string | undefined, page: number, perPage: number, desc: boolean): { rows: AccessEvent[]; total: number } {
    const offset = (page - 1) * perPage;
    const spec = this.generated.get(account);
    if (spec) return this.queryGenerated(spec, since, until, offset, perPage);
    const store = this.stores.get(account) ?? [];
    // Both ends inclusive, as the real API may be.
    const lo = since === undefined ? 0 : lowerBound(store, since);
    const hi = until === undefined ? store.length : upperBound(store, until);
    let window = store.slice(lo, hi);
    const now = Date.now();
    if ((this.pendingVisible.get(account) ?? 0) > now) window = window.filter((s) => s.visibleAt <= now);
    if (desc) window.reverse();
    const rows = window.slice(offset, offset + perPage).map((s) => s.event);
    if (this.options.outOfWindowRows && rows.length > 0) {
      const before = lo > 0 ? store[lo - 1] : undefined;
      const after = hi < store.length ? store[hi] : undefined;
      if (before && before.visibleAt <= now) rows.unshift(before.event);
      if (after && after.visibleAt <= now) rows.push(after.event);
    }
    return { rows, total: window.length };
  }

  private queryGenerated(spec: GeneratedEvents, since: string | undefined, until: string | undefined, offset: number, perPage: number): { rows: AccessEvent[]; total: number } {
    const { lo, hi, total } = this.generatedRange(spec, since, until, offset, perPage);
    const rows: AccessEvent[] = [];
    for (let i = lo; i < hi; i++) rows.push(this.generatedEvent(spec, i));
    return { rows, total };
  }

  /** Indexes `[lo, hi)` of the generated events on a page, and how many the window holds. */
  private generatedRange(spec: GeneratedEvents, since: string | undefined, until: string | undefined, offset: number, perPage: number): { lo: number; hi: number; total: number } {
    const indexAt = (canonical: string, inclusiveUpper: boolean): number => {
      const ns = canonicalNs(canonical) - spec.startNs;
      if (ns < 0n) return 0;
      const idx = inclusiveUpper ? ns / spec.stepNs + 1n : (ns + spec.stepNs - 1n) / spec.stepNs;
      return Number(idx > BigInt(spec.count) ? BigInt(spec.count) : idx);
    };
    const first = since === undefined ? 0 : indexAt(since, false);
    const last = until === undefined ? spec.count : indexAt(until, true);
    const lo = first + offset;
    return { lo, hi: Math.max(lo, Math.min(last, lo + perPage)), total: Math.max(0, last - first) };
  }

  private templates = new WeakMap<GeneratedEvents, string[][]>();

  /** JSON of events `[lo, hi)`, comma-separated: each pool body as text with its time and ray_id spliced in. */
  private generatedText(spec: GeneratedEvents, lo: number, hi: number): string {
    let templates = this.templates.get(spec);
    if (!templates) {
      const pool = Array.from({ length: 997 }, (_, k) => this.generatedEvent(spec, k));
      templates = pool.map((event) => JSON.stringify({ ...event, created_at: '\u0000', ray_id: '\u0000' }).split('"\\u0000"'));
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
      const createdAt = digits === 0 ? `${secondText}Z` : `${secondText}.${String(1e9 + nanosSum - carry * 1e9).slice(1, 1 + digits)}Z`;
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
  return Array.from({ length: count }, (_, i) => ({ ...makeEvent(rand, { atNs, digits: 5 }), user_email: `cluster-${i}@example.com` }));
}

export { rfc3339 };
