/**
 * The Elasticsearch index template for the shipper's data streams, generated from Elastic's own
 * ECS field table (`@elastic/ecs`) for exactly the ECS fields the formatters emit (found by
 * running them over the fixtures, generated events, pushed and per-request events, with and
 * without event.original). The vendor namespaces are `flattened`: any value indexes, no mapping
 * conflict can reject a document. `npm run generate:es-template` writes
 * integrations/elasticsearch/index-template.json; a test keeps that file equal to this.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_FORMAT_CONFIG, formatterOptions } from '../../src/config/formatter.js';
import { accessRequests } from '../../src/datasets/access-requests/index.js';
import type { Dataset } from '../../src/datasets/dataset.js';
import { recordFormatter } from '../../src/datasets/formatters.js';
import { httpRequests } from '../../src/datasets/http-requests/index.js';
import type { EventRecord } from '../../src/format/record.js';
import { ECS_TABLE_VERSION, ecsField } from './ecs-validator.js';
import { makeEvent, prng } from './event-factory.js';
import { ACCOUNT, ALLOWED_LOGIN, DENIED_IPV6 } from './sample-events.js';

export const CUSTOM_NAMESPACES = { 'cloudflare.access': 'flattened', 'cloudflare.http_requests': 'flattened' } as const;

export const SAMPLE_HTTP_REQUEST: EventRecord = {
  ClientIP: '2001:db8::7',
  ClientRequestHost: 'wiki.example.com',
  ClientRequestMethod: 'POST',
  ClientRequestURI: '/login?next=%2Fadmin',
  ClientRequestUserAgent: 'curl/8.5.0',
  ClientRequestBytes: 812,
  ClientCountry: 'de',
  EdgeStartTimestamp: 1714557600123456768,
  EdgeResponseStatus: 302,
  EdgeResponseBytes: 1432,
  RayID: '8f1e2d3c4b5a6978',
  RequestHeaders: { 'cf-access-user': 'alice@example.com' },
};

function sampleEvents(): [Dataset, EventRecord[]][] {
  const fixtures = readFileSync(new URL('../fixtures/sample-events.ndjson', import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as EventRecord);
  const rand = prng(99);
  const generated = Array.from({ length: 300 }, (_, i) =>
    makeEvent(rand, { atNs: 1714557600_000_000_000n + BigInt(i) * 1_000_000_000n }),
  );
  const justified = {
    ...ALLOWED_LOGIN,
    purpose_justification_response: 'INC-1',
    temporary_access_approvers: ['bob@example.com'],
    temporary_access_duration: 600,
  };
  return [
    [accessRequests, [ALLOWED_LOGIN, DENIED_IPV6, justified, ...fixtures, ...generated]],
    [httpRequests, [SAMPLE_HTTP_REQUEST]],
  ];
}

/** The ECS fields (flat names) the formatters write. */
export function emittedEcsFields(): string[] {
  const fields = new Set<string>();
  const walk = (path: string, value: unknown): void => {
    if (Object.keys(CUSTOM_NAMESPACES).includes(path)) return;
    if (ecsField(path) !== undefined) fields.add(path);
    else if (typeof value === 'object' && value !== null && !Array.isArray(value))
      for (const [key, child] of Object.entries(value)) walk(path === '' ? key : `${path}.${key}`, child);
  };
  for (const config of [DEFAULT_FORMAT_CONFIG, { ...DEFAULT_FORMAT_CONFIG, ecs: { include_original: true } }])
    for (const [dataset, events] of sampleEvents()) {
      const format = recordFormatter(dataset, 'ecs', formatterOptions(config, { hostname: 'h' }));
      for (const event of events) walk('', JSON.parse(format(event, { accountId: ACCOUNT })));
    }
  return [...fields].sort();
}

type Mapping = Record<string, unknown>;

/** The field's mapping as ECS defines it (type, ignore_above, index, doc_values, multi-fields). */
function mappingOf(name: string): Mapping {
  const field = ecsField(name) as unknown as Record<string, unknown>;
  const mapping: Mapping = { type: field.type };
  for (const key of ['ignore_above', 'index', 'doc_values', 'scaling_factor'])
    if (field[key] !== undefined) mapping[key] = field[key];
  const multi = field.multi_fields as { name: string; type: string }[] | undefined;
  if (multi && multi.length > 0) mapping.fields = Object.fromEntries(multi.map((m) => [m.name, { type: m.type }]));
  return mapping;
}

function nest(flat: Record<string, Mapping>): Mapping {
  const root: Mapping = {};
  for (const [name, mapping] of Object.entries(flat)) {
    const parts = name.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      const child = (node[part] ??= { properties: {} }) as { properties: Mapping };
      node = child.properties;
    }
    node[parts[parts.length - 1] as string] = mapping;
  }
  return root;
}

/** The composable index template (PUT _index_template/<name>) for `patterns`. */
export function indexTemplate(patterns: readonly string[] = ['logs-cloudflare_access.*-*']): Mapping {
  const flat: Record<string, Mapping> = {};
  for (const name of emittedEcsFields()) flat[name] = mappingOf(name);
  for (const [name, type] of Object.entries(CUSTOM_NAMESPACES)) flat[name] = { type };
  return {
    index_patterns: [...patterns],
    data_stream: {},
    priority: 200,
    _meta: {
      description: 'cf-access-shipper: ECS mappings for the fields it writes (generated from @elastic/ecs)',
      managed_by: 'cf-access-shipper',
      ecs_version: ECS_TABLE_VERSION,
    },
    template: {
      mappings: {
        dynamic_templates: [
          { strings_as_keyword: { match_mapping_type: 'string', mapping: { type: 'keyword', ignore_above: 1024 } } },
        ],
        properties: nest(flat),
      },
    },
  };
}
