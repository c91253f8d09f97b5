/**
 * Cloudflare Access authentication logs: polled from
 * `GET /accounts/{id}/access/logs/access_requests` (source/), pushed by Logpush as the
 * `access_requests` dataset. Written as CEF `Cloudflare|Access`, ECS `authentication` and the
 * `cfaccess@32473` SD element; HEC sourcetypes `cf_access_shipper:access_requests:<format>` (the Splunk add-on's).
 */
import type { Dataset } from '../dataset.js';
import { isEventRecord } from '../../format/record.js';
import { formatJson } from '../../format/json.js';
import { fieldText } from '../../format/record.js';
import { eventHash } from '../../format/identity.js';
import { cefFormatter } from './cef.js';
import { formatEcs } from './ecs.js';
import type { AccessEvent } from './event.js';
import { sharedAccessIdentity } from './identity.js';
import { fromPushedAccessRequest } from './pushed.js';
import { accessSyslogFields } from './syslog.js';

export const accessRequests: Dataset<AccessEvent> = {
  name: 'access_requests',
  arrivals: ['polled', 'pushed'],
  fromPush: fromPushedAccessRequest,
  isEvent: (value): value is AccessEvent => isEventRecord(value),
  time: (event) => fieldText(event, 'created_at'),
  identity: eventHash,
  sharedIdentity: sharedAccessIdentity,
  cef: cefFormatter,
  ecs: (options) => (event, context) => formatEcs(event, context, options),
  json: formatJson,
  syslog: accessSyslogFields,
  sourcetype: (format) => `cf_access_shipper:access_requests:${format}`,
};
