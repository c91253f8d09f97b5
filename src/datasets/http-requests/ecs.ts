/**
 * HTTP request logs in ECS (`event.category: web`, `type: access`): `http.*`, `url.*`, `source.*`
 * and `client.*` (the same address: ECS fills source whenever client is used), `user.email` (the
 * Access identity), `user_agent.original`, `related.ip` / `related.user`; every other field under
 * `cloudflare.http_requests.*` untouched.
 */
import { ECS_VERSION, type EcsOptions } from '../../format/ecs.js';
import { isIPFast } from '../../format/ip.js';
import { type EventContext, valueText } from '../../format/record.js';
import { formatUtc } from '../../format/time.js';
import { accessUser, countOf, edgeStart, type HttpRequestEvent, httpOutcome, statusOf } from './event.js';

type Json = Record<string, unknown>;

const MAPPED = new Set([
  'EdgeStartTimestamp',
  'ClientIP',
  'ClientRequestHost',
  'ClientRequestMethod',
  'ClientRequestURI',
  'ClientRequestUserAgent',
  'ClientRequestBytes',
  'ClientCountry',
  'EdgeResponseStatus',
  'EdgeResponseBytes',
  'RayID',
]);

export function httpEcsDocument(
  event: HttpRequestEvent,
  _context: EventContext = {},
  options: EcsOptions = { includeOriginal: false },
): Json {
  const doc: Json = {};
  const ts = edgeStart(event);
  if (ts) doc['@timestamp'] = formatUtc(ts, Math.max(3, ts.fractionDigits));
  doc.ecs = { version: ECS_VERSION };
  const outcome = httpOutcome(event);
  const ecsEvent: Json = {
    kind: 'event',
    category: ['web'],
    type: ['access'],
    dataset: 'cloudflare_access.http_requests',
  };
  ecsEvent.outcome = outcome === 'allowed' ? 'success' : outcome === 'denied' ? 'failure' : 'unknown';
  const rayId = valueText(event.RayID);
  if (rayId !== undefined) ecsEvent.id = rayId;
  if (options.includeOriginal) ecsEvent.original = JSON.stringify(event);
  doc.event = ecsEvent;
  const http: Json = {};
  const request: Json = {};
  const method = valueText(event.ClientRequestMethod);
  if (method !== undefined) request.method = method;
  const bytesIn = countOf(event.ClientRequestBytes);
  if (bytesIn !== undefined) request.bytes = bytesIn;
  if (Object.keys(request).length > 0) http.request = request;
  const response: Json = {};
  const status = statusOf(event);
  if (status !== undefined) response.status_code = status;
  const bytesOut = countOf(event.EdgeResponseBytes);
  if (bytesOut !== undefined) response.bytes = bytesOut;
  if (Object.keys(response).length > 0) http.response = response;
  if (Object.keys(http).length > 0) doc.http = http;
  const url: Json = {};
  const host = valueText(event.ClientRequestHost);
  if (host !== undefined) url.domain = host;
  const uri = valueText(event.ClientRequestURI);
  if (uri !== undefined) {
    url.original = uri;
    const q = uri.indexOf('?');
    url.path = q === -1 ? uri : uri.slice(0, q);
    if (q !== -1 && q + 1 < uri.length) url.query = uri.slice(q + 1);
  }
  if (Object.keys(url).length > 0) doc.url = url;
  const ip = valueText(event.ClientIP)?.trim();
  const source: Json = {};
  if (ip !== undefined && isIPFast(ip)) source.ip = ip;
  const country = valueText(event.ClientCountry);
  if (country !== undefined && /^[a-z]{2}$/i.test(country)) source.geo = { country_iso_code: country.toUpperCase() };
  if (Object.keys(source).length > 0) {
    doc.source = source;
    doc.client = { ...source };
  }
  const user = accessUser(event);
  if (user !== undefined) doc.user = { email: user };
  const related: Json = {};
  if (user !== undefined) related.user = [user];
  if (source.ip !== undefined) related.ip = [source.ip];
  if (Object.keys(related).length > 0) doc.related = related;
  const agent = valueText(event.ClientRequestUserAgent);
  if (agent !== undefined) doc.user_agent = { original: agent };
  const rest: Json = {};
  for (const [field, value] of Object.entries(event)) if (!MAPPED.has(field)) rest[field] = value;
  if (ip !== undefined && source.ip === undefined) rest.ClientIP = event.ClientIP;
  if (event.EdgeStartTimestamp !== undefined && !ts) rest.EdgeStartTimestamp = event.EdgeStartTimestamp;
  doc.cloudflare = { http_requests: rest };
  return doc;
}

export function formatHttpEcs(event: HttpRequestEvent, context: EventContext = {}, options?: EcsOptions): string {
  return JSON.stringify(httpEcsDocument(event, context, options));
}
