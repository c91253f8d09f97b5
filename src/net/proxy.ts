/**
 * Which HTTP proxy a request to a URL goes through: the client's `proxy` setting (a URL, or
 * `none`), else the environment (`https_proxy` / `HTTPS_PROXY` for https targets, `http_proxy` /
 * `HTTP_PROXY` for http, `all_proxy` / `ALL_PROXY` for both; `no_proxy` / `NO_PROXY` exempts
 * hosts). Pure: the environment is passed in.
 *
 * NO_PROXY follows curl, as the tools are not agreed on it: comma or space separated; `*` alone
 * exempts everything; `example.com`, `.example.com` and `*.example.com` each exempt the domain and
 * every name under it; `host:port` only that port; IP addresses and CIDR blocks (`10.0.0.0/8`,
 * `fd00::/8`) match addresses written as such. Loopback is not exempt unless listed.
 */
import { BlockList, isIP } from 'node:net';
import { maskUrlCredentials } from '../safe-text.js';

export type ProxyRoute =
  | { kind: 'direct'; why: string }
  /** `from` names where it was set (a config key or an environment variable), for messages. */
  | { kind: 'proxy'; url: URL; from: string };

/** A proxy set in the environment that cannot be used. `key` is the variable's name. */
export class ProxyConfigError extends Error {
  readonly code = 'ERR_PROXY_CONFIG';

  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProxyConfigError';
  }
}

/** Where HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY are read (the process environment, or a test's). */
export type ProxyEnv = Readonly<Record<string, string | undefined>>;

function envValue(env: ProxyEnv, name: string): { name: string; value: string } | undefined {
  for (const key of [name.toLowerCase(), name.toUpperCase()]) {
    const value = env[key]?.trim();
    if (value) return { name: key, value };
  }
  return undefined;
}

/**
 * A proxy URL as written in the config or the environment: `http://host:port`,
 * `https://host:port` (TLS to the proxy), or `host:port` (http). Returns an error text otherwise.
 */
export function parseProxyUrl(text: string): URL | string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return 'is not a URL such as http://proxy.example.com:3128';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `uses ${url.protocol.replace(/:$/, '')}://, but only http:// and https:// proxies are supported (no SOCKS)`;
  if (url.hostname === '') return 'has no host name';
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '')
    return 'must be only scheme://[user:password@]host[:port]';
  return url;
}

/** Where a request to `target` goes. `setting` is the client's `proxy` key, `settingKey` its path. */
export function proxyRoute(target: string, setting: string | undefined, settingKey: string, env: ProxyEnv): ProxyRoute {
  if (setting === 'none') return { kind: 'direct', why: `${settingKey} is none` };
  if (setting !== undefined) {
    const url = parseProxyUrl(setting);
    // The schema validates the key; this only guards callers that skipped it.
    if (typeof url === 'string') throw new ProxyConfigError(settingKey, `${settingKey} ${url}`);
    return { kind: 'proxy', url, from: settingKey };
  }
  const targetUrl = new URL(target);
  const scheme = targetUrl.protocol === 'https:' ? 'https' : 'http';
  const chosen = envValue(env, `${scheme}_proxy`) ?? envValue(env, 'all_proxy');
  if (!chosen) return { kind: 'direct', why: `no ${scheme.toUpperCase()}_PROXY in the environment` };
  const url = parseProxyUrl(chosen.value);
  if (typeof url === 'string') {
    throw new ProxyConfigError(
      chosen.name,
      `the environment variable ${chosen.name} ${url} (it is ${maskUrlCredentials(JSON.stringify(chosen.value))}): fix or unset it, or set ${settingKey}: none`,
    );
  }
  const noProxy = envValue(env, 'no_proxy');
  const port = Number(targetUrl.port || (scheme === 'https' ? 443 : 80));
  const exempt = noProxy && noProxyMatch(targetUrl.hostname, port, noProxy.value);
  if (exempt) return { kind: 'direct', why: `${noProxy.name} lists ${exempt}` };
  return { kind: 'proxy', url, from: chosen.name };
}

/** The NO_PROXY entry that exempts host:port, or undefined. */
export function noProxyMatch(hostname: string, port: number, noProxy: string): string | undefined {
  const host = hostname
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  const hostIp = isIP(host);
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return entry;
    const { name, port: entryPort } = splitPort(entry);
    if (entryPort !== undefined && entryPort !== port) continue;
    const slash = name.indexOf('/');
    if (slash !== -1 || isIP(name)) {
      if (hostIp === 0) continue;
      const address = slash === -1 ? name : name.slice(0, slash);
      const family = isIP(address);
      if (family === 0 || family !== hostIp) continue;
      const prefix = slash === -1 ? (family === 4 ? 32 : 128) : Number(name.slice(slash + 1));
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) continue;
      const block = new BlockList();
      block.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
      if (block.check(host, family === 4 ? 'ipv4' : 'ipv6')) return raw.trim();
      continue;
    }
    // An address matches only entries written as addresses or blocks, never a name suffix.
    if (hostIp !== 0) continue;
    const domain = name.replace(/^\*?\./, '').replace(/\.$/, '');
    if (domain !== '' && (host === domain || host.endsWith(`.${domain}`))) return raw.trim();
  }
  return undefined;
}

function splitPort(entry: string): { name: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { name: bracketed[1] ?? '', ...(bracketed[2] ? { port: Number(bracketed[2]) } : {}) };
  // A bare IPv6 address has colons of its own.
  if (isIP(entry.split('/')[0] ?? '') === 6) return { name: entry };
  const withPort = /^(.*):(\d+)$/.exec(entry);
  return withPort ? { name: withPort[1] ?? '', port: Number(withPort[2]) } : { name: entry };
}

/** The proxy as it may be printed: `http://***@proxy:3128` when it carries credentials. */
export function proxyLabel(url: URL): string {
  const bare = `${url.protocol}//${url.host}`;
  return url.username || url.password ? maskUrlCredentials(`${url.protocol}//x@${url.host}`) : bare;
}

/** A route in words, for `check`, `validate` and the start-up log. */
export function describeRoute(route: ProxyRoute): string {
  return route.kind === 'direct' ? `direct (${route.why})` : `via proxy ${proxyLabel(route.url)} (${route.from})`;
}
