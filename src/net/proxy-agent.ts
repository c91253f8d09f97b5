/**
 * Keep-alive agents for a route: plain ones when direct; through a proxy, `https-proxy-agent`
 * (a CONNECT tunnel, then TLS to the target with the request's own `ca`/`cert`/`rejectUnauthorized`,
 * so the target's certificate is verified end to end) and `http-proxy-agent` (absolute-URI requests
 * for http targets). Proxy credentials come from the proxy URL and go only into
 * `Proxy-Authorization`. Node's own NODE_USE_ENV_PROXY does not apply to custom agents, so this is
 * the one place proxies are decided.
 */
import { Agent as HttpAgent, type ClientRequest } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { proxyLabel, type ProxyRoute } from './proxy.js';

export interface Agents {
  http: HttpAgent;
  https: HttpsAgent;
}

/**
 * The proxy refused to open the tunnel (CONNECT answered other than 200). `code` is
 * ERR_PROXY_AUTH for 407 (credentials missing or wrong), else ERR_PROXY_REFUSED.
 */
export class ProxyRefusedError extends Error {
  readonly code: 'ERR_PROXY_AUTH' | 'ERR_PROXY_REFUSED';

  constructor(
    readonly status: number,
    statusText: string,
    route: Extract<ProxyRoute, { kind: 'proxy' }>,
    target: string,
  ) {
    super(proxyRefusal(status, statusText, route, target));
    this.name = 'ProxyRefusedError';
    this.code = status === 407 ? 'ERR_PROXY_AUTH' : 'ERR_PROXY_REFUSED';
  }
}

/** What a proxy's refusal means and what to do about it. */
export function proxyRefusal(
  status: number,
  statusText: string,
  route: Extract<ProxyRoute, { kind: 'proxy' }>,
  target: string,
): string {
  const proxy = proxyLabel(route.url);
  const said = `the proxy ${proxy} answered HTTP ${status}${statusText ? ` ${statusText}` : ''} for ${target}`;
  if (status === 407) {
    const given =
      route.url.username || route.url.password ? 'refused the credentials in' : 'wants credentials: put them in';
    return `${said}: it ${given} ${route.from} (http://user:password@host:port, percent-encoded)`;
  }
  return `${said}: it would not open a tunnel there; check that the proxy allows CONNECT to that host and port, or exempt the host (${route.from.includes('.') ? `${route.from}: none` : 'NO_PROXY'})`;
}

type ConnectOptions = Parameters<HttpsProxyAgent<string>['connect']>[1];

/** CONNECT through the proxy; a refusal becomes a ProxyRefusedError instead of a fake response. */
class TunnelAgent extends HttpsProxyAgent<string> {
  constructor(
    private readonly route: Extract<ProxyRoute, { kind: 'proxy' }>,
    maxSockets: number,
    private readonly targetTls: TargetTls = {},
  ) {
    super(route.url, { keepAlive: true, maxSockets });
  }

  /**
   * Used only for https targets. agent-base guesses https from the call stack, which holds when a
   * request is added but not when its socket is freed: the free socket was pooled under an http
   * name and never reused (one CONNECT per request). Saying so keeps the tunnels alive.
   */
  override getName(options?: ConnectOptions): string {
    return super.getName({ ...(options ?? {}), secureEndpoint: true } as ConnectOptions);
  }

  override async connect(req: ClientRequest, opts: ConnectOptions): Promise<Socket> {
    let refused: { statusCode: number; statusText: string } | undefined;
    req.once('proxyConnect', (connect: { statusCode: number; statusText: string }) => {
      if (connect.statusCode !== 200) refused = connect;
    });
    const socket = await super.connect(req, { ...this.targetTls, ...opts });
    if (refused) {
      socket.destroy();
      throw new ProxyRefusedError(
        refused.statusCode,
        refused.statusText,
        this.route,
        `${opts.host ?? ''}:${opts.port}`,
      );
    }
    return socket;
  }
}

/**
 * The TLS to the target, for clients that set it on the agent rather than on each request
 * (the Elasticsearch client); a request's own options win.
 */
export interface TargetTls {
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  rejectUnauthorized?: boolean;
}

/** Agents for requests on `route`, with up to `maxSockets` connections per target. */
export function routeAgents(route: ProxyRoute, maxSockets = Infinity, targetTls: TargetTls = {}): Agents {
  if (route.kind === 'direct')
    return {
      http: new HttpAgent({ keepAlive: true, maxSockets }),
      https: new HttpsAgent({ keepAlive: true, maxSockets, ...targetTls }),
    };
  // Both are http.Agent subclasses that serve https requests too (agent-base picks per request).
  const https = new TunnelAgent(route, maxSockets, targetTls) as unknown as HttpsAgent;
  const http = new HttpProxyAgent(route.url, { keepAlive: true, maxSockets });
  return { http, https };
}

/** Whether an error (or one of its causes) is the proxy refusing, and how. */
export function proxyRefusedIn(error: unknown): ProxyRefusedError | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ProxyRefusedError) return e;
  }
  return undefined;
}
