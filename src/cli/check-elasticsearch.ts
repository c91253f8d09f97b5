/** `check` for an elasticsearch output: the cluster answers, the credentials are taken, the version. */
import { errors } from '@elastic/elasticsearch';
import type { ElasticsearchOutputConfig } from '../config/outputs.js';
import { safeText } from '../safe-text.js';
import { elasticsearchClient, esUrls } from '../sink/elasticsearch.js';

export interface EsCheckLine {
  ok: boolean;
  target: string;
  detail: string;
  fix?: string;
}

export async function checkElasticsearch(target: string, output: ElasticsearchOutputConfig): Promise<EsCheckLine> {
  const client = elasticsearchClient(output.name, output);
  const where = esUrls(output).join(', ');
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
    return {
      ok: false,
      target,
      detail: `${where}: ${safeText((error as Error).message)}`,
      fix: `check that ${where} is reachable from this host`,
    };
  } finally {
    await client.close();
  }
}
