/**
 * `check`: live tests of the configuration. Each account: one request of the configured page size
 * over the last day (auth, permission, reachability, and how many rows one response really
 * holds). Each output: HEC health plus authenticated probes that tell a bad or disabled token, a
 * wrong index and missing acknowledgement apart without indexing anything; syslog: connect and
 * verified TLS handshake; file: writable. Never takes the state lock.
 */
import { safeText } from '../safe-text.js';
import { constants, existsSync, promises as fs } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { OutputConfig, SplunkHecOutputConfig, SyslogOutputConfig } from '../config/outputs.js';
import type { Config } from '../config/schema.js';
import { cloudflareRoute } from '../config/proxies.js';
import { canonicalFromMs, apiTime } from '../format/time.js';
import { accountLabel } from '../pipeline/run-once.js';
import { cloudflareAuth } from '../pipeline/runtime.js';
import { classifyHecResponse, parseHecBody } from '../sink/hec-protocol.js';
import { type HecEndpoint, hecBase, hecEndpoint, hecRequest, hecUrls, keepAliveAgents } from '../sink/hec-http.js';
import { proxyRefusedIn } from '../net/proxy-agent.js';
import { describeRoute } from '../net/proxy.js';
import { isCertificateError, SyslogConnection } from '../sink/syslog-connection.js';
import { RelpSession } from '../sink/relp-session.js';
import { DEFAULT_PORTS } from '../sink/syslog.js';
import { readTlsFiles } from '../sink/tls-files.js';
import { CloudflareClient } from '../source/cloudflare-client.js';
import { REQUIRED_PERMISSION } from '../source/cloudflare-errors.js';
import { RateLimiter } from '../source/rate-limiter.js';
import { checkStatePath } from '../state/store.js';
import { checkElasticsearch } from './check-elasticsearch.js';

export interface CheckLine {
  ok: boolean;
  target: string;
  detail: string;
  fix?: string;
}

export async function runChecks(config: Config): Promise<CheckLine[]> {
  const lines: CheckLine[] = [await checkState(config)];
  for (const account of config.cloudflare.accounts) lines.push(await checkAccount(config, account));
  for (const output of config.outputs) lines.push(await checkOutput(output));
  return lines;
}

export function formatChecks(lines: readonly CheckLine[]): string {
  return lines
    .map(
      (line) =>
        `${line.ok ? '✓' : '✗'} ${safeText(line.target)}: ${safeText(line.detail)}${line.fix ? `\n    fix: ${safeText(line.fix)}` : ''}`,
    )
    .join('\n');
}

async function checkState(config: Config): Promise<CheckLine> {
  const path = resolve(config.state.path);
  const target = `state ${path}`;
  try {
    const found = await checkStatePath(path);
    return {
      ok: true,
      target,
      detail:
        found === 'valid'
          ? 'readable and valid; its directory is writable'
          : 'not created yet; its directory is writable',
    };
  } catch (error) {
    return {
      ok: false,
      target,
      detail: (error as Error).message,
      fix: 'see "State file" in the README: --recover-from-backup, or move the file away',
    };
  }
}

async function checkAccount(config: Config, account: Config['cloudflare']['accounts'][number]): Promise<CheckLine> {
  const label = accountLabel(account);
  const target = `account ${label}${label === account.id ? '' : ` (${account.id})`}`;
  const route = cloudflareRoute(config);
  const via = route.kind === 'proxy' ? ` ${describeRoute(route)}` : '';
  const client = new CloudflareClient({
    baseUrl: config.cloudflare.base_url,
    auth: cloudflareAuth(config),
    requestTimeoutMs: config.cloudflare.request_timeout,
    proxy: route,
    limiter: new RateLimiter({ requests: 10, perMs: 1000 }),
    maxAttempts: 1,
  });
  const started = Date.now();
  try {
    const now = Date.now();
    const size = config.cloudflare.page_size;
    const page = await client.fetchPage({
      accountId: account.id,
      accountLabel: label,
      since: apiTime(canonicalFromMs(now - 86_400_000), 'down'),
      until: apiTime(canonicalFromMs(now), 'up'),
      page: 1,
      perPage: size,
      limit: size,
    });
    const rows = page.events.length;
    const paging =
      rows === 0
        ? 'no event in the last 24 hours'
        : rows < size
          ? `${rows} row(s) in one response for page_size ${size} (the API may cap responses below it; paging adapts)`
          : `${rows} rows in one response, as asked`;
    return {
      ok: true,
      target,
      detail: `Access authentication logs readable (${paging}, ${Date.now() - started} ms)${via}`,
    };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const fix =
      code === 'ERR_CF_PROXY'
        ? `set the proxy credentials in ${route.kind === 'proxy' ? route.from : 'cloudflare.proxy'} (http://user:password@host:port)`
        : code === 'ERR_CF_AUTH'
          ? `give the API token the permission ${REQUIRED_PERMISSION} on this account (My Profile → API Tokens), or fix cloudflare.api_token`
          : code === 'ERR_CF_PAGE_SIZE'
            ? 'set cloudflare.page_size to one of 1, 5, 10, 20, 25, 50, 100, 1000'
            : code === 'ERR_CF_REQUEST'
              ? 'check the account id (32 hex characters from the dashboard URL) and cloudflare.base_url'
              : `check that ${config.cloudflare.base_url} is reachable from this host (DNS, proxy, firewall)${via ? '; the requests go through the proxy: check it lets this host CONNECT there, or set cloudflare.proxy: none' : ''}`;
    return { ok: false, target, detail: `${(error as Error).message.split('. ')[0] ?? String(error)}${via}`, fix };
  } finally {
    client.close();
  }
}

async function checkOutput(output: OutputConfig): Promise<CheckLine> {
  const target = `output ${output.name} (${output.type})`;
  try {
    switch (output.type) {
      case 'stdout':
        return { ok: true, target, detail: 'standard output' };
      case 'file':
        return await checkFile(target, output.path);
      case 'splunk_hec':
        return await checkHec(target, output);
      case 'elasticsearch':
        return await checkElasticsearch(target, output);
      case 'syslog':
        return await checkSyslog(target, output);
    }
  } catch (error) {
    return { ok: false, target, detail: (error as Error).message };
  }
}

async function checkFile(target: string, path: string): Promise<CheckLine> {
  const file = resolve(path);
  const dir = dirname(file);
  if (!existsSync(dir)) return { ok: true, target, detail: `${dir} will be created at the first write` };
  try {
    if (!(await fs.stat(dir)).isDirectory())
      throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
    await fs.access(existsSync(file) ? file : dir, constants.W_OK);
  } catch (error) {
    return {
      ok: false,
      target,
      detail: `${file} is not writable (${(error as NodeJS.ErrnoException).code ?? ''})`,
      fix: `let the service user write ${dir}`,
    };
  }
  return { ok: true, target, detail: `${file} writable` };
}

/** Probes every URL of the output; the line is ok when each one is. */
async function checkHec(target: string, output: SplunkHecOutputConfig): Promise<CheckLine> {
  const urls = hecUrls(output);
  if (urls.length === 1) return checkHecUrl(target, output, urls[0] ?? '');
  const lines = await Promise.all(urls.map((url) => checkHecUrl(target, output, url)));
  const failed = lines.filter((l) => !l.ok);
  const detail = lines
    .map((l, i) => (l.detail.includes(hecBase(urls[i] ?? '')) ? l.detail : `${hecBase(urls[i] ?? '')}: ${l.detail}`))
    .join('; ');
  if (failed.length === 0) return { ok: true, target, detail };
  return {
    ok: false,
    target,
    detail,
    fix: failed
      .map((l) => l.fix)
      .filter(Boolean)
      .join('; '),
  };
}

async function checkHecUrl(target: string, output: SplunkHecOutputConfig, url: string): Promise<CheckLine> {
  const plain = hecEndpoint(output.name, output, readTlsFiles(output.name, output.tls), url);
  const agents = keepAliveAgents(1, plain.route);
  try {
    return await probeHec(target, output, { ...plain, agents });
  } finally {
    agents.http.destroy();
    agents.https.destroy();
  }
}

async function probeHec(target: string, output: SplunkHecOutputConfig, endpoint: HecEndpoint): Promise<CheckLine> {
  const base = endpoint.base;
  const key = `outputs.${output.name}`;
  const via = endpoint.route?.kind === 'proxy' ? ` ${describeRoute(endpoint.route)}` : '';
  const request = (path: string, method: 'GET' | 'POST', body?: string) => hecRequest(endpoint, path, method, body);
  let health;
  try {
    health = await request('/services/collector/health', 'GET');
  } catch (error) {
    const reason = (error as Error).message;
    const refused = proxyRefusedIn(error);
    const fix = refused
      ? refused.code === 'ERR_PROXY_AUTH'
        ? `set the proxy credentials in ${endpoint.route?.kind === 'proxy' ? endpoint.route.from : `${key}.proxy`}`
        : `let the proxy CONNECT to ${new URL(base).host}, or exempt it (NO_PROXY or ${key}.proxy: none)`
      : /certificate|self.signed|CERT/i.test(reason)
        ? `set ${key}.tls.ca_file to the CA that signed Splunk's certificate`
        : `check ${key}.url and that HEC is enabled and reachable${via ? ' through the proxy' : ''}`;
    return { ok: false, target, detail: `cannot reach ${base}${via}: ${reason}`, fix };
  }
  const healthBody = parseHecBody(health.body);
  if (health.statusCode !== 200 || (healthBody.code !== undefined && healthBody.code !== 17)) {
    return {
      ok: false,
      target,
      detail: `HEC is not healthy (HTTP ${health.statusCode}${healthBody.code === undefined ? '' : `, code ${healthBody.code}`}: ${healthBody.text ?? health.body.slice(0, 80)})`,
      fix: 'check the Splunk indexers and HEC queues (Settings → Data inputs → HTTP Event Collector)',
    };
  }
  // A blank event is refused without indexing anything; what it is refused for tells the rest.
  const probe = await request(
    '/services/collector/event',
    'POST',
    JSON.stringify({ event: '', ...(output.index === undefined ? {} : { index: output.index }) }),
  );
  const body = parseHecBody(probe.body);
  const verdict = classifyHecResponse({ status: probe.statusCode, body: probe.body }, key);
  if (verdict.kind === 'fatal') {
    const fix =
      body.code === 7
        ? `set ${key}.index to an index this token may write to (or add it to the token's allowed indexes)`
        : body.code === 1
          ? 'enable the HEC token in Splunk'
          : `fix ${key}.token (or token_file)`;
    return { ok: false, target, detail: `HEC refused the token or index: ${verdict.reason.split('. ')[0] ?? ''}`, fix };
  }
  const parts = ['HEC healthy (code 17)', 'token accepted'];
  if (output.index !== undefined) parts.push(`index ${output.index} accepted`);
  if (output.ack !== false) {
    const ack = await request('/services/collector/ack', 'POST', JSON.stringify({ acks: [0] }));
    const ackBody = parseHecBody(ack.body);
    if (ackBody.code === 14) {
      if (output.ack === true)
        return {
          ok: false,
          target,
          detail: `${parts.join(', ')}, but indexer acknowledgement is disabled for this token (code 14)`,
          fix: `enable "Indexer acknowledgement" on the token, or set ${key}.ack to auto or false`,
        };
      parts.push('acknowledgement off for this token (ack: auto sends without it)');
    } else if (ack.statusCode === 200) parts.push('indexer acknowledgement enabled');
    else parts.push(`ack endpoint answered HTTP ${ack.statusCode}`);
  }
  return { ok: true, target, detail: `${parts.join(', ')}${via}` };
}

async function checkSyslog(target: string, output: SyslogOutputConfig): Promise<CheckLine> {
  const port = output.port ?? DEFAULT_PORTS[output.transport];
  if (output.transport === 'udp') {
    const { lookup } = await import('node:dns/promises');
    const { address } = await lookup(output.host);
    return {
      ok: true,
      target,
      detail: `udp://${output.host}:${port} resolves to ${address}; UDP is fire-and-forget, so delivery cannot be verified`,
    };
  }
  if (output.transport === 'relp') {
    try {
      const session = await RelpSession.open(output.host, port, output.connect_timeout);
      await session.close(1000);
      return {
        ok: true,
        target,
        detail: `relp://${output.host}:${port}: RELP session opened (the server offers syslog)`,
      };
    } catch (error) {
      return {
        ok: false,
        target,
        detail: `relp://${output.host}:${port}: ${(error as Error).message}`,
        fix: `check outputs.${output.name}.host/port and that the server has a RELP input (rsyslog: module(load="imrelp") and input(type="imrelp" port="${port}"))`,
      };
    }
  }
  const tls = output.transport === 'tls' ? readTlsFiles(output.name, output.tls) : {};
  try {
    const connection = await SyslogConnection.open({
      transport: output.transport,
      host: output.host,
      port,
      timeoutMs: output.connect_timeout,
      tls: { ...tls, verify: output.tls.verify, servername: output.tls.servername },
    });
    await connection.end(1000);
  } catch (error) {
    const fix = isCertificateError(error)
      ? `set outputs.${output.name}.tls.ca_file to the CA that signed the server certificate (and tls.servername if the name differs)`
      : `check outputs.${output.name}.host/port and that the server listens for ${output.transport.toUpperCase()}`;
    return {
      ok: false,
      target,
      detail: `${output.transport}://${output.host}:${port}: ${(error as Error).message}`,
      fix,
    };
  }
  return {
    ok: true,
    target,
    detail: `${output.transport}://${output.host}:${port} ${output.transport === 'tls' ? `connected, certificate verified${output.tls.verify ? '' : ' (NO: tls.verify is false)'}` : 'connected'}`,
  };
}
