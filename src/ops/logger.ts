/**
 * The daemon's own logs: winston to stderr (journald picks it up), text or JSON, with every
 * configured secret redacted from messages and metadata before anything is written.
 */
import { escapeControls, maskUrlCredentials } from '../safe-text.js';
import winston from 'winston';
import { GuardedSyslogTransport } from './local-syslog.js';

export type Logger = winston.Logger;

export interface LoggerOptions {
  level: 'error' | 'warn' | 'info' | 'debug';
  format: 'text' | 'json';
  secrets?: readonly string[];
  /** Where to write; stderr unless a test passes a stream. */
  stream?: NodeJS.WritableStream;
  /** Also append to this file (reopen with `reopenLogFile` on SIGHUP). */
  file?: string | undefined;
  /** Also send to the local syslog socket. */
  syslog?: { path: string; facility: string; app_name: string } | undefined;
}

const REDACTED = '[REDACTED]';

export function redactor(secrets: readonly string[]): (text: string) => string {
  const list = [...new Set(secrets)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  if (list.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const secret of list) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  };
}

function redactDeep(value: unknown, redact: (text: string) => string, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return redact(value.message);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redact, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, redact, depth + 1)]));
}

function transport(stream: NodeJS.WritableStream | undefined): winston.transport {
  if (stream) return new winston.transports.Stream({ stream });
  return new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug', 'verbose', 'silly'] });
}

export function createLogger(options: LoggerOptions): Logger {
  const secrets = redactor(options.secrets ?? []);
  // Every line is one line, without credentials, whatever a peer put in an error message.
  const redact = (text: string): string => escapeControls(maskUrlCredentials(secrets(text)));
  const redaction = winston.format((info) => {
    for (const key of Object.keys(info)) {
      info[key] = redactDeep(info[key], redact);
    }
    return info;
  })();
  const text = winston.format.printf((info) => {
    const { level, message, timestamp, ...meta } = info;
    const rest = Object.entries(meta)
      .filter(([k]) => typeof k === 'string')
      .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${String(timestamp)} ${level} ${String(message)}${rest ? ` ${rest}` : ''}`;
  });
  const logger = winston.createLogger({
    level: options.level,
    format: winston.format.combine(
      redaction,
      winston.format.timestamp(),
      options.format === 'json' ? winston.format.json() : text,
    ),
    transports: [transport(options.stream)],
    exitOnError: false,
  });
  // A failing transport must never take the shipper down.
  logger.on('error', () => undefined);
  if (options.file !== undefined) logger.add(fileTransport(options.file));
  if (options.syslog) addSyslogTransport(logger, options.syslog);
  return logger;
}

function fileTransport(filename: string): winston.transport {
  const file = new winston.transports.File({ filename });
  file.on('error', () => undefined);
  return file;
}

/** Closes and opens the log file again (after logrotate moved it). */
export function reopenLogFile(logger: Logger): void {
  for (const transport of logger.transports) {
    if (transport instanceof winston.transports.File) {
      const filename = (transport as unknown as { filename: string; dirname: string }).filename;
      const dirname = (transport as unknown as { dirname: string }).dirname;
      logger.remove(transport);
      transport.close?.();
      logger.add(fileTransport(`${dirname}/${filename}`));
    }
  }
}

/** The local syslog socket, through a guard that keeps winston-syslog from ever crashing us. */
function addSyslogTransport(logger: Logger, options: { path: string; facility: string; app_name: string }): void {
  const transport = new GuardedSyslogTransport(options);
  transport.on('error', () => undefined);
  logger.add(transport);
}
