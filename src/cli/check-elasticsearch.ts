/** `check` for an elasticsearch output: the cluster answers, the credentials are taken, the version. */
import { errors } from '@elastic/elasticsearch';
import type { ElasticsearchOutputConfig } from '../config/outputs.js';
import { outputRoute } from '../config/proxies.js';
import { describeRoute } from '../net/proxy.js';
import { safeText } from '../safe-text.js';
import { elasticsearchClient, esUrls, proxyAuthRefused } from '../sink/elasticsearch.js';

export interface EsCheckLine {
  ok: boolean;
  target: string;
  detail: string;
  fix?: string;
}

export async function checkElasticsearch(target: string, output: ElasticsearchOutputConfig): Promise<EsCheckLine> {
  const client = elasticsearchClient(output.name, output);
  const urls = esUrls(output);
  const routes = urls.map((u) => outputRoute(output, u));
  const proxied = routes.find((r) => r.kind === 'proxy');
  const where = `${urls.join(', ')}${proxied ? ` ${describeRoute(proxied)}` : ''}`;
  try {
    const info = await client.info();
    return {
      ok: true,
      target,
      detail: `${where}: Elasticsearch ${info.version.number}, cluster ${safeText(info.cluster_name)}`,
    };
  } catch (error) {
    if (error instanceof errors.ResponseError && (error.statusCode === 401 || error.statusCode === 403))
      return {
        ok: false,
        target,
        detail: `${where}: credentials refused (${error.statusCode})`,
        fix: 'check api_key (the base64 "encoded" value) or username/password, and that the key may write the data stream',
      };
    if (error instanceof errors.ProductNotSupportedError)
      return {
        ok: false,
        target,
        detail: `${where}: not Elasticsearch`,
        fix: 'point url at Elasticsearch itself, not Kibana',
      };
    const message = (error as Error).message;
    if (proxyAuthRefused(error))
      return {
        ok: false,
        target,
        detail: `${where}: ${safeText(message)}`,
        fix: `set the proxy credentials in outputs.${output.name}.proxy or HTTPS_PROXY (http://user:password@host:port)`,
      };
    return {
      ok: false,
      target,
      detail: `${where}: ${safeText(message)}`,
      fix: `check that ${urls.join(', ')} is reachable from this host${proxied ? `; the requests go through the proxy: check it lets this host CONNECT there, or set outputs.${output.name}.proxy: none` : ''}`,
    };
  } finally {
    await client.close();
  }
}
