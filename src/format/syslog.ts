/**
 * Syslog envelopes (RFC 5424 and RFC 3164) around an already formatted MSG (CEF, JSON or ECS).
 * Pure functions; framing and size limits belong to the syslog sink.
 */
import type { EventContext, EventRecord, Outcome } from './record.js';
import { bsdTimestamp, formatUtc, parseTimestamp } from './time.js';
import { pictureControls, printableAscii } from './text.js';

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

/** What a syslog header takes from an event; each dataset says where its fields are. */
export interface SyslogFields<E extends EventRecord = EventRecord> {
  /** The event's time as written (RFC 3339 or any text parseTimestamp reads). */
  time(event: E): string | undefined;
  outcome(event: E): Outcome;
  /** RFC 5424 MSGID (the action). */
  msgId(event: E): string | undefined;
  /** The SD-ELEMENTs (`[id k="v" …]`), or "-". */
  structuredData(event: E, context: EventContext): string;
}

/**
 * RFC 5424 §6.3.3: escape `"`, `\` and `]`. CR/LF become spaces so a record stays one line, and
 * other control characters visible pictures (see pictureControls).
 */
export function escapeSdValue(value: string): string {
  return pictureControls(value.replace(/[\r\n]/g, ' ')).replace(/["\\\]]/g, (ch) => `\\${ch}`);
}

export function priority<E extends EventRecord>(event: E, options: SyslogOptions, fields: SyslogFields<E>): number {
  const severity = fields.outcome(event) === 'allowed' ? options.severity.allowed : options.severity.denied;
  return options.facility * 8 + severity;
}

/**
 * A header builder for one set of options: HOSTNAME, APP-NAME and PROCID are cleaned once.
 * Returns `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD ` (with the space before MSG).
 */
export function rfc5424HeaderFormatter<E extends EventRecord>(
  options: SyslogOptions,
  fields: SyslogFields<E>,
): (event: E, context: EventContext) => string {
  const middle = ` ${printableAscii(options.hostname, 255)} ${printableAscii(options.appName, 48)} ${printableAscii(options.procId, 128)} `;
  return (event, context) => {
    const time = fields.time(event);
    const ts = time === undefined ? undefined : parseTimestamp(time);
    const timestamp = ts ? formatUtc(ts, Math.min(6, ts.fractionDigits)) : '-';
    const msgId = printableAscii(fields.msgId(event), 32);
    const sd = options.structuredData ? fields.structuredData(event, context) : '-';
    return `<${priority(event, options, fields)}>1 ${timestamp}${middle}${msgId} ${sd} `;
  };
}

export function rfc5424Header<E extends EventRecord>(
  event: E,
  context: EventContext,
  options: SyslogOptions,
  fields: SyslogFields<E>,
): string {
  return rfc5424HeaderFormatter(options, fields)(event, context);
}

/** `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG` */
export function formatRfc5424<E extends EventRecord>(
  event: E,
  context: EventContext,
  msg: string,
  options: SyslogOptions,
  fields: SyslogFields<E>,
): string {
  return rfc5424Header(event, context, options, fields) + msg;
}

/** RFC 3164 TAG: alphanumeric, at most 32 characters. */
function bsdTag(appName: string): string {
  const tag = appName.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 32);
  return tag === '' ? 'cf-access' : tag;
}

/** `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[pid]: MSG` with the event's time in UTC. */
export function formatRfc3164<E extends EventRecord>(
  event: E,
  context: EventContext,
  msg: string,
  options: SyslogOptions,
  fields: SyslogFields<E>,
): string {
  return rfc3164Header(event, context, options, fields) + msg;
}

/** `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[pid]: ` */
export function rfc3164Header<E extends EventRecord>(
  event: E,
  _context: EventContext,
  options: SyslogOptions,
  fields: SyslogFields<E>,
): string {
  const time = fields.time(event);
  const ts = time === undefined ? undefined : parseTimestamp(time);
  // RFC 3164 has no NILVALUE; a relay adds its own time when the timestamp is missing, so we
  // write the current time rather than an invalid header.
  const timestamp = bsdTimestamp(ts ?? { epochMs: Date.now(), subMsNanos: 0, fractionDigits: 0 });
  const hostname = printableAscii(options.hostname, 255);
  const pid = printableAscii(options.procId, 128);
  const tag = pid === '-' ? bsdTag(options.appName) : `${bsdTag(options.appName)}[${pid}]`;
  return `<${priority(event, options, fields)}>${timestamp} ${hostname} ${tag}: `;
}
