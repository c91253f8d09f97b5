/**
 * The indexers (or load balancers) one HEC output sends to: each with its own channel, keep-alive
 * agents, cookie jar and health. Batches go to the reachable one with the fewest requests in
 * flight; one that fails is rested (1 s, doubling to 30 s) and tried again after.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { HecEndpoint } from './hec-http.js';
import { keepAliveAgents } from './hec-http.js';

const REST_MIN_MS = 1000;
const REST_MAX_MS = 30_000;

export class HecTarget {
  agents: ReturnType<typeof keepAliveAgents>;
  /** Cookies the load balancer set (name → value), sent back on every request of the channel. */
  private readonly cookies = new Map<string, string>();
  inFlight = 0;
  private downUntil = 0;
  private failures = 0;
  /** Seen an ackId from this server (ack: auto decides per response). */
  acksSeen = false;

  constructor(
    readonly endpoint: HecEndpoint,
    private readonly maxSockets: number,
  ) {
    this.agents = keepAliveAgents(maxSockets, endpoint.route);
  }

  get base(): string {
    return this.endpoint.base;
  }

  /** The Cookie header for the next request ("" when the balancer set none). */
  cookieHeader(): string {
    return serializeCookies(this.cookies);
  }

  /**
   * Takes the cookies a response set. Returns the cookie that routes to the server that answered:
   * what was sent, overlaid with what the response set (concurrent requests can land on different
   * servers before the first cookie arrives, so each ackId keeps its own).
   */
  remember(sent: string, headers: IncomingHttpHeaders): string {
    const setCookie = headers['set-cookie'];
    if (!setCookie || setCookie.length === 0) return sent;
    const route = parseCookieHeader(sent);
    for (const line of setCookie) {
      const cookie = parseSetCookie(line);
      if (!cookie) continue;
      for (const jar of [this.cookies, route]) {
        if (cookie.expired) jar.delete(cookie.name);
        else jar.set(cookie.name, cookie.value);
      }
    }
    return serializeCookies(route);
  }

  isUp(now: number): boolean {
    return this.downUntil <= now;
  }

  /** Seconds until a rested target is tried again. */
  restLeft(now: number): number {
    return Math.max(0, this.downUntil - now);
  }

  markDown(now: number): void {
    this.failures++;
    this.downUntil = now + Math.min(REST_MAX_MS, REST_MIN_MS * 2 ** Math.min(10, this.failures - 1));
  }

  markUp(): void {
    this.failures = 0;
    this.downUntil = 0;
  }

  resetAgents(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
    this.agents = keepAliveAgents(this.maxSockets, this.endpoint.route);
  }
}

let rotation = 0;

/**
 * The reachable target with the fewest requests in flight (ties rotate). When every one is
 * resting, the one whose rest ends first: the caller's own backoff paces the retries then.
 */
export function pickTarget(targets: readonly HecTarget[], now: number): HecTarget | undefined {
  let best: HecTarget | undefined;
  let soonest: HecTarget | undefined;
  const start = rotation++ % Math.max(1, targets.length);
  for (let k = 0; k < targets.length; k++) {
    const target = targets[(start + k) % targets.length];
    if (!target) continue;
    if (!soonest || target.restLeft(now) < soonest.restLeft(now)) soonest = target;
    if (!target.isUp(now)) continue;
    if (!best || target.inFlight < best.inFlight) best = target;
  }
  return best ?? soonest;
}

export function parseCookieHeader(header: string): Map<string, string> {
  const jar = new Map<string, string>();
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    jar.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return jar;
}

function serializeCookies(jar: ReadonlyMap<string, string>): string {
  return [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
}

/** `name=value` of a Set-Cookie line, and whether it deletes the cookie (Max-Age ≤ 0 or Expires in the past). */
export function parseSetCookie(line: string): { name: string; value: string; expired: boolean } | undefined {
  const [pair = '', ...attributes] = line.split(';');
  const at = pair.indexOf('=');
  if (at <= 0) return undefined;
  let expired = false;
  for (const attribute of attributes) {
    const [key = '', value = ''] = attribute.split('=').map((s) => s.trim());
    if (key.toLowerCase() === 'max-age' && Number(value) <= 0) expired = true;
    if (key.toLowerCase() === 'expires' && Date.parse(value) < Date.now()) expired = true;
  }
  return { name: pair.slice(0, at).trim(), value: pair.slice(at + 1).trim(), expired };
}
