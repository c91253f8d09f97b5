/**
 * ArcSight Common Event Format, version 0. Pure: event in, one line out.
 *
 * Escaping follows the ArcSight CEF standard: in the header `\` and `|` are escaped and line
 * breaks removed; in extension values `\` and `=` are escaped and CR/LF are written as `\r`/`\n`.
 * Extension keys are fixed here, so no input can create a new key.
 */
import { isIPv6 } from 'node:net';
import { type AccessEvent, type EventContext, type Outcome, fieldText, outcomeOf, splitAppDomain, valueText } from './event.js';
import { isIPv4Fast } from './ip.js';
import { epochMillis } from './time.js';
import { truncateUtf8 } from './text.js';

export interface CefOptions {
  /** The product version written into the header. */
  version: string;
  severity: { allowed: number; denied: number };
}

/** Maximum lengths from the CEF dictionary (applied to UTF-8 bytes, so always safe). */
export const CEF_LIMITS = {
  vendor: 63,
  product: 63,
  version: 31,
  classId: 1023,
  name: 512,
  act: 63,
  outcome: 63,
  suser: 1023,
  suid: 1023,
  dhost: 1023,
  request: 1023,
  externalId: 40,
  deviceExternalId: 255,
  cs: 4000,
  csLabel: 1023,
  c6a2Label: 1023,
} as const;

const HEADER_SPECIAL = /[\\|\r\n]/;
const VALUE_SPECIAL = /[\\=\r\n]/;

export function escapeCefHeader(value: string): string {
  if (!HEADER_SPECIAL.test(value)) return value;
  return value.replace(/[\\|\r\n]/g, (ch) => (ch === '\\' ? '\\\\' : ch === '|' ? '\\|' : ''));
}

export function escapeCefValue(value: string): string {
  if (!VALUE_SPECIAL.test(value)) return value; // the common case: nothing to escape
  return value.replace(/[\\=\r\n]/g, (ch) => {
    switch (ch) {
      case '\\':
        return '\\\\';
      case '=':
        return '\\=';
      case '\r':
        return '\\r';
      default:
        return '\\n';
    }
  });
}

function headerField(value: string, max: number): string {
  // Remove line breaks first so the limit applies to what is written.
  return escapeCefHeader(truncateUtf8(value.replace(/[\r\n]/g, ''), max));
}

/** Appends `key=value` to the extension, the value truncated to `max` UTF-8 bytes and escaped. */
function pair(text: string, key: string, value: string, max: number, plain: boolean): string {
  const cut = truncateUtf8(value, max);
  const escaped = plain ? cut : escapeCefValue(cut);
  return text === '' ? `${key}=${escaped}` : `${text} ${key}=${escaped}`;
}

/**
 * The escaped extension, pairs in the documented order, each only when its field is present.
 * Written as straight-line code: this is the hot path of every CEF output (see bench/).
 */
export function cefExtensionText(event: AccessEvent, context: EventContext): string {
  const plain = context.plainValues === true;
  const createdAt = context.epochMs === undefined ? valueText(event.created_at) : undefined;
  const rt = context.epochMs ?? (createdAt === undefined ? undefined : epochMillis(createdAt));
  let text = rt === undefined ? '' : `rt=${rt}`;
  const action = valueText(event.action);
  if (action !== undefined) text = pair(text, 'act', action, CEF_LIMITS.act, plain);
  const outcome = outcomeOf(event);
  if (outcome !== 'unknown') text = pair(text, 'outcome', outcome === 'allowed' ? 'success' : 'failure', CEF_LIMITS.outcome, plain);
  const email = valueText(event.user_email);
  if (email !== undefined) text = pair(text, 'suser', email, CEF_LIMITS.suser, plain);
  const userId = valueText(event.user_id);
  if (userId !== undefined) text = pair(text, 'suid', userId, CEF_LIMITS.suid, plain);
  const ip = valueText(event.ip_address)?.trim();
  // Only a valid address goes in: ArcSight rejects an event whose src is not IPv4.
  if (ip !== undefined) {
    if (!ip.includes(':')) {
      if (isIPv4Fast(ip)) text = pair(text, 'src', ip, 15, plain);
    } else if (isIPv6(ip)) text = `${pair(text, 'c6a2', ip, 45, plain)} c6a2Label=Source IPv6 Address`;
  }
  const appDomain = valueText(event.app_domain);
  if (appDomain !== undefined) {
    const { host } = splitAppDomain(appDomain);
    if (host !== '') text = pair(text, 'dhost', host, CEF_LIMITS.dhost, plain);
    text = pair(text, 'request', appDomain, CEF_LIMITS.request, plain);
  }
  const rayId = valueText(event.ray_id);
  if (rayId !== undefined) text = pair(text, 'externalId', rayId, CEF_LIMITS.externalId, plain);
  const appUid = valueText(event.app_uid);
  if (appUid !== undefined) text = `${pair(text, 'cs1', appUid, CEF_LIMITS.cs, plain)} cs1Label=App UID`;
  const connection = valueText(event.connection);
  if (connection !== undefined) text = `${pair(text, 'cs2', connection, CEF_LIMITS.cs, plain)} cs2Label=Identity Provider`;
  const country = valueText(event.country);
  if (country !== undefined) text = `${pair(text, 'cs3', country, CEF_LIMITS.cs, plain)} cs3Label=Country`;
  const appType = valueText(event.app_type);
  if (appType !== undefined) text = `${pair(text, 'cs4', appType, CEF_LIMITS.cs, plain)} cs4Label=App Type`;
  const appName = valueText(event.app_name);
  if (appName !== undefined) text = `${pair(text, 'cs5', appName, CEF_LIMITS.cs, plain)} cs5Label=App Name`;
  if (context.accountId !== undefined) text = pair(text, 'deviceExternalId', context.accountId, CEF_LIMITS.deviceExternalId, false);
  return text;
}

export function cefHeader(action: string, outcome: Outcome, options: CefOptions): string {
  const severity = outcome === 'allowed' ? options.severity.allowed : options.severity.denied;
  // Cut the action, not the suffix, so an over-long action still says allowed/denied.
  const classId = headerField(`${truncateUtf8(action, CEF_LIMITS.classId - outcome.length - 1)}-${outcome}`, CEF_LIMITS.classId);
  const name = headerField(`Access ${truncateUtf8(action, CEF_LIMITS.name - outcome.length - 8)} ${outcome}`, CEF_LIMITS.name);
  return `CEF:0|Cloudflare|Access|${headerField(options.version, CEF_LIMITS.version)}|${classId}|${name}|${severity}|`;
}

export function formatCef(event: AccessEvent, context: EventContext, options: CefOptions): string {
  return cefHeader(fieldText(event, 'action') ?? 'unknown', outcomeOf(event), options) + cefExtensionText(event, context);
}

/**
 * A CEF formatter for one set of options. Headers repeat (a few actions × two outcomes), so
 * they are computed once; the result is the same as `formatCef`.
 */
export function cefFormatter(options: CefOptions): (event: AccessEvent, context: EventContext) => string {
  const headers: Record<Outcome, Map<string, string>> = { allowed: new Map(), denied: new Map(), unknown: new Map() };
  return (event, context) => {
    const action = fieldText(event, 'action') ?? 'unknown';
    const outcome = outcomeOf(event);
    const cache = headers[outcome];
    let header = cache.get(action);
    if (header === undefined) {
      header = cefHeader(action, outcome, options);
      if (cache.size < 1024) cache.set(action, header);
    }
    return header + cefExtensionText(event, context);
  };
}
