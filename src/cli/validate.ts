/** `validate`: load the configuration offline and summarize it. */
import type { LoadedConfig } from '../config/load.js';
import type { OutputConfig } from '../config/outputs.js';
import { formatDuration } from '../config/duration.js';
import { clientRoutes } from '../config/proxies.js';
import { describeRoute } from '../net/proxy.js';
import { esUrls } from '../sink/elasticsearch.js';
import { hecUrls } from '../sink/hec-http.js';
import { DATASETS, POLLED } from '../datasets/index.js';
import { sharedArrivals } from '../pipeline/push.js';

export function describeOutput(out: OutputConfig): string {
  switch (out.type) {
    case 'stdout':
      return `${out.name}: stdout, format ${out.format}`;
    case 'file':
      return `${out.name}: file ${out.path}, format ${out.format}, fsync per batch`;
    case 'splunk_hec': {
      const urls = hecUrls(out).map((u) => new URL(u));
      const parts = [
        `${out.name}: splunk_hec ${urls.map((u) => u.origin).join(' + ')}`,
        `format ${out.format}`,
        `sourcetype ${out.sourcetype ?? POLLED.sourcetype(out.format)}`,
        out.index === undefined ? 'token default index' : `index ${out.index}`,
        out.gzip ? 'gzip' : 'no gzip',
        `ack ${String(out.ack)}`,
      ];
      if (urls.some((u) => u.protocol === 'http:')) parts.push('WARNING: plain http, the token travels unencrypted');
      if (!out.tls.verify) parts.push('WARNING: TLS verification off');
      return parts.join(', ');
    }
    case 'elasticsearch': {
      const urls = esUrls(out).map((u) => new URL(u));
      const parts = [
        `${out.name}: elasticsearch ${urls.map((u) => u.origin).join(' + ')}`,
        'ECS documents',
        `data stream ${out.data_stream ?? 'logs-cloudflare_access.<dataset>-default'}`,
        out.api_key !== undefined ? 'API key' : out.username !== undefined ? `user ${out.username}` : 'no credentials',
        out.gzip ? 'gzip' : 'no gzip',
        '_id = content hash (a retry is never indexed twice)',
      ];
      if (urls.some((u) => u.protocol === 'http:'))
        parts.push('WARNING: plain http, the credentials travel unencrypted');
      if (!out.tls.verify) parts.push('WARNING: TLS verification off');
      return parts.join(', ');
    }
    case 'syslog': {
      const port = out.port ?? (out.transport === 'tls' ? 6514 : out.transport === 'relp' ? 2514 : 514);
      const framing =
        out.transport === 'udp'
          ? 'one datagram per message'
          : out.transport === 'relp'
            ? 'RELP frames'
            : (out.framing ?? 'octet-counting');
      const parts = [
        `${out.name}: syslog ${out.transport}://${out.host}:${port}`,
        `RFC ${out.rfc}`,
        framing,
        `format ${out.format}`,
      ];
      if (out.transport === 'udp') parts.push('fire-and-forget: UDP cannot confirm delivery, events can be lost');
      else if (out.transport === 'relp')
        parts.push(
          'every message confirmed by the server (a confirmation lost with the connection may duplicate that message)',
        );
      else
        parts.push(
          `a dropped connection resends what was written in the last ${Math.round(out.resend_window / 1000)} s (duplicates possible; older unread data is lost)`,
        );
      if (out.transport === 'tls' && !out.tls.verify) parts.push('WARNING: TLS verification off');
      return parts.join(', ');
    }
  }
}

export function validateSummary(loaded: LoadedConfig): string[] {
  const { config } = loaded;
  const cf = config.cloudflare;
  const auth = cf.api_token !== undefined ? 'API token' : 'API key + e-mail';
  const lines = [
    `config ${loaded.path} is valid`,
    `cloudflare: ${cf.accounts.length} account(s) (${cf.accounts.map((a) => a.name ?? a.id).join(', ')}), ${auth}, page_size ${cf.page_size}, rate limit ${cf.rate_limit.requests}/${formatDuration(cf.rate_limit.per)}`,
    `poll: "${config.poll.schedule}", settle ${formatDuration(config.poll.settle)}, overlap ${formatDuration(config.poll.overlap)}, first run looks back ${formatDuration(config.poll.initial_lookback)}`,
    `state: ${config.state.path}`,
  ];
  for (const out of config.outputs) lines.push(`output ${describeOutput(out)}`);
  if (config.push) {
    const push = config.push;
    const endpoints = push.endpoints.map((e) => `${e.path} → ${e.dataset} (secret in ${e.secret_header})`).join(', ');
    lines.push(
      `push: ${push.tls ? 'https' : 'http'}://${push.listen.host}:${push.listen.port}${push.tls ? '' : ' (WARNING: Logpush pushes only to HTTPS; put TLS in front)'}, ${endpoints}; max_body ${push.max_body} bytes, ${push.max_concurrent} at once, dedup window ${push.dedup_window} per endpoint and output`,
    );
    const polled = config.cloudflare.accounts.map((a) => a.id);
    const shared = sharedArrivals(config, polled);
    for (const e of push.endpoints)
      if (shared && e.account_id !== undefined && shared.covers(e.account_id) && DATASETS[e.dataset]?.sharedIdentity)
        lines.push(
          `push endpoint ${e.name}: account ${e.account_id} is also polled; the two share each output's dedup window (each event once per output)`,
        );
      else if (e.dataset === POLLED.name && e.account_id === undefined)
        lines.push(
          `push endpoint ${e.name}: no account_id, so events polled and pushed for one account are not matched (set account_id to ship each once)`,
        );
  }
  for (const { client, target, route } of clientRoutes(config))
    lines.push(`network: ${client} → ${new URL(target).origin} ${describeRoute(route)}`);
  return lines;
}
