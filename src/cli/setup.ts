/**
 * `setup elasticsearch`: installs the index template of the shipper's data streams (ECS mappings
 * for the fields it writes, generated from Elastic's ECS table and shipped in
 * integrations/elasticsearch/index-template.json) on the cluster of each elasticsearch output.
 * Without it the data streams still work on Elasticsearch's default `logs-*-*` template.
 */
import { readFileSync } from 'node:fs';
import { errors } from '@elastic/elasticsearch';
import type { ElasticsearchOutputConfig } from '../config/outputs.js';
import type { Config } from '../config/schema.js';
import { safeText } from '../safe-text.js';
import { elasticsearchClient, esUrls } from '../sink/elasticsearch.js';

const TEMPLATE_FILE = new URL('../../integrations/elasticsearch/index-template.json', import.meta.url);
export const DEFAULT_PATTERN = 'logs-cloudflare_access.*-*';

export interface SetupLine {
  ok: boolean;
  text: string;
}

/** The template and its name for an output: the shipped one, or one for the output's own data stream. */
export function templateFor(output: ElasticsearchOutputConfig): { name: string; body: Record<string, unknown> } {
  const body = JSON.parse(readFileSync(TEMPLATE_FILE, 'utf8')) as Record<string, unknown>;
  if (output.data_stream === undefined) return { name: 'cf-access-shipper', body };
  return { name: `cf-access-shipper-${output.name}`, body: { ...body, index_patterns: [output.data_stream] } };
}

export async function setupElasticsearch(config: Config, only: readonly string[] = []): Promise<SetupLine[]> {
  const outputs = config.outputs.filter(
    (o): o is ElasticsearchOutputConfig => o.type === 'elasticsearch' && (only.length === 0 || only.includes(o.name)),
  );
  if (outputs.length === 0)
    return [{ ok: false, text: 'no elasticsearch output in the configuration (or none of those named)' }];
  const lines: SetupLine[] = [];
  for (const output of outputs) {
    const { name, body } = templateFor(output);
    const client = elasticsearchClient(output.name, output);
    const where = `output ${output.name} (${esUrls(output).join(', ')})`;
    try {
      await client.transport.request({ method: 'PUT', path: `/_index_template/${encodeURIComponent(name)}`, body });
      const patterns = (body.index_patterns as string[]).join(', ');
      lines.push({ ok: true, text: `${where}: index template ${name} installed for ${patterns}` });
    } catch (error) {
      const status = error instanceof errors.ResponseError ? ` (${error.statusCode ?? ''})` : '';
      const hint =
        error instanceof errors.ResponseError && (error.statusCode === 401 || error.statusCode === 403)
          ? ': the key or user needs the manage_index_templates cluster privilege'
          : '';
      lines.push({ ok: false, text: `${where}: ${safeText((error as Error).message)}${status}${hint}` });
    } finally {
      await client.close();
    }
  }
  return lines;
}
