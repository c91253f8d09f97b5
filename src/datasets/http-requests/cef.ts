/**
 * HTTP request logs in CEF: `Cloudflare|HTTP`, class id `http-<status>`, and the request in the
 * dictionary's keys (rt, src/c6a2, requestMethod, request, requestClientApplication, suser,
 * outcome, externalId, in/out bytes). Pure.
 */
import { CEF_LIMITS, type CefOptions, cefHeaderText, cefValue } from '../../format/cef.js';
import { isIPv4Fast, isIPv6Fast } from '../../format/ip.js';
import type { EventContext } from '../../format/record.js';
import { valueText } from '../../format/record.js';
import { epochMillisText } from '../../format/time.js';
import { accessUser, countOf, edgeStart, type HttpRequestEvent, httpOutcome, statusOf } from './event.js';

function pair(key: string, value: unknown, max: number): string {
  const text = valueText(value);
  return text === undefined || text === '' ? '' : ` ${key}=${cefValue(text, max, false)}`;
}

export function formatHttpCef(event: HttpRequestEvent, _context: EventContext, options: CefOptions): string {
  const status = statusOf(event);
  const method = valueText(event.ClientRequestMethod) ?? 'UNKNOWN';
  const outcome = httpOutcome(event);
  const severity = outcome === 'denied' ? options.severity.denied : options.severity.allowed;
  const header = cefHeaderText(
    'Cloudflare',
    'HTTP',
    options.version,
    `http-${status ?? 'unknown'}`,
    `HTTP ${method} ${status ?? '-'}`,
    severity,
  );
  const ts = edgeStart(event);
  let out = ts ? ` rt=${epochMillisText(ts.epochMs)}` : '';
  const ip = valueText(event.ClientIP)?.trim();
  if (ip !== undefined && isIPv4Fast(ip)) out += ` src=${ip}`;
  else if (ip !== undefined && isIPv6Fast(ip)) out += ` c6a2=${cefValue(ip, 45, false)} c6a2Label=Source IPv6 Address`;
  out += pair('requestMethod', event.ClientRequestMethod, 63);
  const host = valueText(event.ClientRequestHost) ?? '';
  const uri = valueText(event.ClientRequestURI) ?? '';
  if (host !== '' || uri !== '') out += ` request=${cefValue(`${host}${uri}`, CEF_LIMITS.request, false)}`;
  out += pair('dhost', event.ClientRequestHost, CEF_LIMITS.dhost);
  out += pair('requestClientApplication', event.ClientRequestUserAgent, 1023);
  out += pair('suser', accessUser(event), CEF_LIMITS.suser);
  if (outcome !== 'unknown') out += outcome === 'allowed' ? ' outcome=success' : ' outcome=failure';
  if (status !== undefined) out += ` cn1=${status} cn1Label=HTTP Status`;
  out += pair('externalId', event.RayID, CEF_LIMITS.externalId);
  const bytesIn = countOf(event.ClientRequestBytes);
  if (bytesIn !== undefined) out += ` in=${bytesIn}`;
  const bytesOut = countOf(event.EdgeResponseBytes);
  if (bytesOut !== undefined) out += ` out=${bytesOut}`;
  out += pair('cs3', event.ClientCountry, CEF_LIMITS.cs);
  if (valueText(event.ClientCountry)) out += ' cs3Label=Country';
  return header + out.slice(1);
}
