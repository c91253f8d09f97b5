/**
 * Every HTTP client of a configuration and the proxy route each takes: the Cloudflare API and
 * each HEC and Elasticsearch URL. Used at load (a proxy in the environment that cannot be used is a config error
 * before anything starts), by `validate`, `check` and the start-up log.
 */
import { type ProxyEnv, proxyRoute, type ProxyRoute } from '../net/proxy.js';
import type { Config } from './schema.js';

export interface ClientRoute {
  /** "Cloudflare API" or "output splunk". */
  client: string;
  target: string;
  route: ProxyRoute;
}


export function cloudflareRoute(config: Config, env: ProxyEnv = process.env): ProxyRoute {
  return proxyRoute(config.cloudflare.base_url, config.cloudflare.proxy, 'cloudflare.proxy', env);
}

/** The route of one URL of an HTTP output (HEC, Elasticsearch): its `proxy` key, else the environment. */
export function outputRoute(output: { name: string; proxy?: string | undefined }, url: string, env: ProxyEnv = process.env): ProxyRoute {
  return proxyRoute(url, output.proxy, `outputs.${output.name}.proxy`, env);
}

export function clientRoutes(config: Config, env: ProxyEnv = process.env): ClientRoute[] {
  const routes: ClientRoute[] = [{ client: 'Cloudflare API', target: config.cloudflare.base_url, route: cloudflareRoute(config, env) }];
  for (const output of config.outputs) {
    if (output.type !== 'splunk_hec' && output.type !== 'elasticsearch') continue;
    for (const url of typeof output.url === 'string' ? [output.url] : output.url) {
      routes.push({ client: `output ${output.name}`, target: url, route: outputRoute(output, url, env) });
    }
  }
  return routes;
}

/** The proxy passwords in play (config or environment), for the loggers to redact. */
export function proxySecrets(routes: readonly ClientRoute[]): string[] {
  const secrets: string[] = [];
  for (const { route } of routes) {
    if (route.kind !== 'proxy') continue;
    // Not the user name: it is often a plain word that redaction would blot out of every line.
    const password = route.url.password;
    if (password) secrets.push(password, safeDecode(password));
  }
  return secrets;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
