/**
 * Elastic Common Schema document for an Access authentication event. Fields ECS has a place for
 * are mapped; everything else goes under `cloudflare.access.*` untouched (the purpose-justification
 * and temporary-access fields too; the user's justification is also `event.reason`). The address is
 * both `source.*` (what ECS always fills) and `client.*` (what Elastic's Cloudflare integration and
 * its dashboards read): ECS asks for source/destination to be filled whenever client/server are.
 */
import { ECS_VERSION, type EcsOptions } from '../../format/ecs.js';
import { isIPFast } from '../../format/ip.js';
import { type EventContext, fieldText } from '../../format/record.js';
import { formatUtc, parseTimestamp } from '../../format/time.js';
import { type AccessEvent, accessRequestFields, outcomeOf, splitAppDomain } from './event.js';

/** Fields that ECS takes over; every other field is kept under cloudflare.access. */
const MAPPED = new Set([
  'created_at',
  'action',
  'ray_id',
  'user_email',
  'user_id',
  'ip_address',
  'country',
  'app_domain',
]);

type Json = Record<string, unknown>;

/** ECS `event.type` of an Access action: a login (or SSO into another app) starts a session, a logout ends it. */
export function eventTypeOf(action: string | undefined): 'start' | 'end' | 'info' {
  const name = action?.trim().toLowerCase();
  if (name === 'login' || name === 'sso') return 'start';
  if (name === 'logout') return 'end';
  return 'info';
}

const COUNTRY = /^[a-z]{2}$/i;

export function ecsDocument(
  event: AccessEvent,
  context: EventContext = {},
  options: EcsOptions = { includeOriginal: false },
): Json {
  const doc: Json = {};
  const createdAt = fieldText(event, 'created_at');
  const ts = createdAt === undefined ? undefined : parseTimestamp(createdAt);
  if (ts) doc['@timestamp'] = formatUtc(ts, Math.max(3, ts.fractionDigits));
  doc.ecs = { version: ECS_VERSION };

  const outcome = outcomeOf(event);
  const action = fieldText(event, 'action');
  const ecsEvent: Json = {
    kind: 'event',
    category: ['authentication'],
    type: [eventTypeOf(action)],
    dataset: 'cloudflare_access.access_requests',
  };
  if (action !== undefined) ecsEvent.action = action;
  ecsEvent.outcome = outcome === 'allowed' ? 'success' : outcome === 'denied' ? 'failure' : 'unknown';
  const rayId = fieldText(event, 'ray_id');
  if (rayId !== undefined) ecsEvent.id = rayId;
  const requested = accessRequestFields(event);
  if (requested?.response !== undefined) ecsEvent.reason = requested.response;
  if (options.includeOriginal) ecsEvent.original = JSON.stringify(event);
  doc.event = ecsEvent;

  const user: Json = {};
  const email = fieldText(event, 'user_email');
  if (email !== undefined) user.email = email;
  const userId = fieldText(event, 'user_id');
  if (userId !== undefined) user.id = userId;
  if (Object.keys(user).length > 0) doc.user = user;

  const source: Json = {};
  const ip = fieldText(event, 'ip_address')?.trim();
  // source.ip is an ip-typed field in Elasticsearch: an invalid value would reject the document.
  const validIp = ip !== undefined && isIPFast(ip);
  if (validIp) source.ip = ip;
  const country = fieldText(event, 'country')?.trim();
  const validCountry = country !== undefined && COUNTRY.test(country);
  if (validCountry) source.geo = { country_iso_code: country.toUpperCase() };
  if (Object.keys(source).length > 0) {
    doc.source = source;
    doc.client = { ...source };
  }

  const relatedUsers = [email, userId, ...(requested?.approverList ?? [])].filter(
    (v): v is string => v !== undefined && v !== '',
  );
  const related: Json = {};
  if (relatedUsers.length > 0) related.user = [...new Set(relatedUsers)];
  if (validIp) related.ip = [ip];
  if (Object.keys(related).length > 0) doc.related = related;

  const appDomain = fieldText(event, 'app_domain');
  if (appDomain !== undefined) {
    const parts = splitAppDomain(appDomain);
    const url: Json = { original: parts.original };
    if (parts.host !== '') url.domain = parts.host;
    if (parts.path !== undefined) url.path = parts.path;
    doc.url = url;
  }

  doc.observer = { vendor: 'Cloudflare', product: 'Access', type: 'zero-trust' };
  if (context.accountId !== undefined) doc.cloud = { provider: 'cloudflare', account: { id: context.accountId } };

  const rest: Json = {};
  for (const [key, value] of Object.entries(event)) {
    if (MAPPED.has(key)) continue;
    // An ip_address that is not an IP is kept here instead of being dropped.
    rest[key] = value;
  }
  if (ip !== undefined && !validIp) rest.ip_address = event.ip_address;
  if (country !== undefined && !validCountry) rest.country = event.country;
  if (createdAt !== undefined && !ts) rest.created_at = event.created_at;
  doc.cloudflare = { access: rest };
  return doc;
}

export function formatEcs(event: AccessEvent, context: EventContext = {}, options?: EcsOptions): string {
  return JSON.stringify(ecsDocument(event, context, options));
}
