/**
 * Syslog envelopes (RFC 5424 and RFC 3164) around an already formatted MSG (CEF, JSON or ECS).
 * Pure functions; framing and size limits belong to the syslog sink.
 */
import { type AccessEvent, accessRequestFields, type EventContext, fieldText, outcomeOf } from './event.js';
import { bsdTimestamp, formatUtc, parseTimestamp } from './time.js';
import { pictureControls, printableAscii, truncateUtf8 } from './text.js';

export const FACILITIES: Readonly<Record<string, number>> = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  security: 13,
  console: 14,
  solaris_cron: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

export const SEVERITIES: Readonly<Record<string, number>> = {
  emerg: 0,
  emergency: 0,
  alert: 1,
  crit: 2,
  critical: 2,
  err: 3,
  error: 3,
  warning: 4,
  warn: 4,
  notice: 5,
  info: 6,
  informational: 6,
  debug: 7,
};

/** A facility or severity code from its name or number (case-insensitive); undefined if invalid. */
export function syslogCode(
  table: Readonly<Record<string, number>>,
  max: number,
  value: string | number,
): number | undefined {
  const text = String(value).trim().toLowerCase();
  const code = /^\d+$/.test(text) ? Number(text) : table[text];
  return code === undefined || code > max ? undefined : code;
}

export function parseFacility(value: string): number | undefined {
  return syslogCode(FACILITIES, 23, value);
}

export interface SyslogOptions {
  /** Facility code 0–23. */
  facility: number;
  /** Severity codes 0–7 by outcome; an event without `allowed` uses `denied`. */
  severity: { allowed: number; denied: number };
  appName: string;
  hostname: string;
  /** PROCID (RFC 5424) and the `[pid]` of the RFC 3164 TAG; "-" or empty omits it. */
  procId: string;
  structuredData: boolean;
}

export const SD_ID = 'cfaccess@32473';

/** Event fields written as SD-PARAMs, in this order; names are fixed so input cannot add one. */
const SD_FIELDS = [
  'action',
  'allowed',
  'user_email',
  'user_id',
  'ip_address',
  'country',
  'app_domain',
  'app_name',
  'app_uid',
  'app_type',
  'connection',
  'ray_id',
  'created_at',
] as const;

/**
 * RFC 5424 §6.3.3: escape `"`, `\` and `]`. CR/LF become spaces so a record stays one line, and
 * other control characters visible pictures (see pictureControls).
 */
export function escapeSdValue(value: string): string {
  return pictureControls(value.replace(/[\r\n]/g, ' ')).replace(/["\\\]]/g, (ch) => `\\${ch}`);
}

export function priority(event: AccessEvent, options: SyslogOptions): number {
  const severity = outcomeOf(event) === 'allowed' ? options.severity.allowed : options.severity.denied;
  return options.facility * 8 + severity;
}

export function structuredData(event: AccessEvent, context: EventContext): string {
  const params: string[] = [];
  for (const field of SD_FIELDS) {
    const value = fieldText(event, field);
    // 4000 bytes per value keeps a record well under 64 KiB even with every field long.
    if (value !== undefined) params.push(`${field}="${escapeSdValue(truncateUtf8(value, 4000))}"`);
  }
  // Set on few events and empty otherwise: written only when they carry something.
  const requested = accessRequestFields(event);
  if (requested) {
    const sd = (name: string, value: string | number | undefined): void => {
      if (value !== undefined) params.push(`${name}="${escapeSdValue(truncateUtf8(String(value), 4000))}"`);
    };
    sd('purpose_justification_prompt', requested.prompt);
    sd('purpose_justification_response', requested.response);
    sd('temporary_access_approvers', requested.approvers);
    sd('temporary_access_duration', requested.durationSeconds);
  }
  if (context.accountId !== undefined) params.push(`account_id="${escapeSdValue(context.accountId)}"`);
  return params.length === 0 ? '-' : `[${SD_ID} ${params.join(' ')}]`;
}

/**
 * A header builder for one set of options: HOSTNAME, APP-NAME and PROCID are cleaned once.
 * Returns `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD ` (with the space before MSG).
 */
export function rfc5424HeaderFormatter(options: SyslogOptions): (event: AccessEvent, context: EventContext) => string {
  const middle = ` ${printableAscii(options.hostname, 255)} ${printableAscii(options.appName, 48)} ${printableAscii(options.procId, 128)} `;
  return (event, context) => {
    const createdAt = fieldText(event, 'created_at');
    const ts = createdAt === undefined ? undefined : parseTimestamp(createdAt);
    const timestamp = ts ? formatUtc(ts, Math.min(6, ts.fractionDigits)) : '-';
    const msgId = printableAscii(fieldText(event, 'action'), 32);
    const sd = options.structuredData ? structuredData(event, context) : '-';
    return `<${priority(event, options)}>1 ${timestamp}${middle}${msgId} ${sd} `;
  };
}

export function rfc5424Header(event: AccessEvent, context: EventContext, options: SyslogOptions): string {
  return rfc5424HeaderFormatter(options)(event, context);
}

/** `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG` */
export function formatRfc5424(event: AccessEvent, context: EventContext, msg: string, options: SyslogOptions): string {
  return rfc5424Header(event, context, options) + msg;
}

/** RFC 3164 TAG: alphanumeric, at most 32 characters. */
function bsdTag(appName: string): string {
  const tag = appName.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 32);
  return tag === '' ? 'cf-access' : tag;
}

/** `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[pid]: MSG` with the event's time in UTC. */
export function formatRfc3164(event: AccessEvent, context: EventContext, msg: string, options: SyslogOptions): string {
  return rfc3164Header(event, context, options) + msg;
}

/** `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[pid]: ` */
export function rfc3164Header(event: AccessEvent, _context: EventContext, options: SyslogOptions): string {
  const createdAt = fieldText(event, 'created_at');
  const ts = createdAt === undefined ? undefined : parseTimestamp(createdAt);
  // RFC 3164 has no NILVALUE; a relay adds its own time when the timestamp is missing, so we
  // write the current time rather than an invalid header.
  const timestamp = bsdTimestamp(ts ?? { epochMs: Date.now(), subMsNanos: 0, fractionDigits: 0 });
  const hostname = printableAscii(options.hostname, 255);
  const pid = printableAscii(options.procId, 128);
  const tag = pid === '-' ? bsdTag(options.appName) : `${bsdTag(options.appName)}[${pid}]`;
  return `<${priority(event, options)}>${timestamp} ${hostname} ${tag}: `;
}
