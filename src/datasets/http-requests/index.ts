/**
 * Cloudflare HTTP request logs, pushed by Logpush (`http_requests`): CEF `Cloudflare|HTTP`, ECS
 * `web`/`access`, the `cfhttp@32473` SD element, HEC sourcetypes
 * `cf_access_shipper:http_requests:<format>`.
 */
import { eventHash, textHash } from '../../format/identity.js';
import { formatJson } from '../../format/json.js';
import { type EventContext, isEventRecord, valueText } from '../../format/record.js';
import { escapeSdValue, type SyslogFields } from '../../format/syslog.js';
import { truncateUtf8 } from '../../format/text.js';
import type { Dataset } from '../dataset.js';
import { formatHttpCef } from './cef.js';
import { formatHttpEcs } from './ecs.js';
import { accessUser, edgeStart, edgeStartText, type HttpRequestEvent, httpOutcome } from './event.js';

const SD_ID = 'cfhttp@32473';
const SD_FIELDS = [
  'RayID',
  'ClientIP',
  'ClientRequestMethod',
  'ClientRequestHost',
  'ClientRequestURI',
  'EdgeResponseStatus',
  'EdgeResponseBytes',
  'ClientCountry',
] as const;

function structuredData(event: HttpRequestEvent, context: EventContext): string {
  const params: string[] = [];
  const add = (name: string, value: string | undefined): void => {
    if (value !== undefined) params.push(`${name}="${escapeSdValue(truncateUtf8(value, 4000))}"`);
  };
  for (const field of SD_FIELDS) add(field, valueText(event[field]));
  add('EdgeStartTimestamp', edgeStartText(event));
  add('cf_access_user', accessUser(event));
  if (context.accountId !== undefined) add('account_id', context.accountId);
  return params.length === 0 ? '-' : `[${SD_ID} ${params.join(' ')}]`;
}

const syslog: SyslogFields<HttpRequestEvent> = {
  time: edgeStartText,
  outcome: httpOutcome,
  msgId: (event) => valueText(event.ClientRequestMethod),
  structuredData,
};

export const httpRequests: Dataset<HttpRequestEvent> = {
  name: 'http_requests',
  arrivals: ['pushed'],
  isEvent: (value): value is HttpRequestEvent => isEventRecord(value),
  time: edgeStartText,
  timestamp: edgeStart,
  identity: eventHash,
  fromPush: (record) => record,
  // Only ever pushed: a batch Logpush sends again has the same lines.
  pushedIdentity: textHash,
  cef: (options) => (event, context) => formatHttpCef(event, context, options),
  ecs: (options) => (event, context) => formatHttpEcs(event, context, options),
  json: formatJson,
  syslog,
  sourcetype: (format) => `cf_access_shipper:http_requests:${format}`,
};
