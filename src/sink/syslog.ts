/**
 * Syslog output over UDP, TCP or TLS (RFC 5424 or 3164 records, RFC 6587 framing, RFC 5425 for
 * TLS). TCP/TLS: a batch is delivered once the socket has taken it and the connection is up;
 * when a connection drops, what was written in the last `resend_window` is sent again on a new
 * connection (the peer may not have read it), so a drop can duplicate but not lose. UDP is
 * fire-and-forget. Over-long records are fitted (see syslog-fit.ts), counted and logged.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { RelpSession } from './relp-session.js';
import type { SyslogOutputConfig } from '../config/outputs.js';
import type { EventContext } from '../format/record.js';
import type { SyslogOptions } from '../format/syslog.js';
import { rfc3164Header, rfc5424Header, rfc5424HeaderFormatter, type SyslogFields } from '../format/syslog.js';
import type { Logger } from '../logging.js';
import { type Clock, realClock } from '../clock.js';
import { backoffDelay } from '../net/backoff.js';
import { isCertificateError, SyslogConnection } from './syslog-connection.js';
import { fitRecord, FramedBuffer } from './syslog-fit.js';
import { readTlsFiles, type TlsFiles } from './tls-files.js';
import type { DeliveryResult, OutputRecord, Sink } from './types.js';

export interface SyslogSinkOptions {
  logger: Logger;
  syslog: SyslogOptions;
  /** Where the header finds the event's time, outcome, MSGID and structured data (its dataset's). */
  fields: SyslogFields;
  clock?: Clock;
  /** How long after a write a drop still triggers a resend (ms). */
  resendWindowMs?: number;
  onReconnect?: () => void;
  onTruncated?: (count: number) => void;
}

/** A record as header and message (`msg` is empty when the record was fitted into one text). */
interface Parts {
  header: string;
  msg: string;
  truncated: boolean;
}

interface Written {
  at: number;
  data: Buffer;
  records: number;
}

export const DEFAULT_PORTS = { udp: 514, tcp: 514, tls: 6514, relp: 2514 } as const;

export class SyslogSink implements Sink {
  readonly concurrency = 1;
  readonly exactlyOnce = false;
  /** Connections opened so far: every one after the first is a reconnect. */
  private connects = 0;
  private readonly port: number;
  private readonly maxBytes: number;
  private readonly framing: 'octet-counting' | 'lf';
  private readonly clock: Clock;
  private readonly resendWindowMs: number;
  private tls: TlsFiles = {};
  private readonly header5424: (event: OutputRecord['event'], context: EventContext) => string;
  private readonly header5424WithoutSd: (event: OutputRecord['event'], context: EventContext) => string;
  private connection: SyslogConnection | undefined;
  private udp: UdpSocket | undefined;
  private relp: RelpSession | undefined;
  /** Which records of a batch the RELP server confirmed (a retry offers the same array). */
  private readonly relpConfirmed = new WeakMap<readonly OutputRecord[], Uint8Array>();
  private udpAddress: string | undefined;
  /** Written within the resend window: what a drop may have cut off. */
  private recent: Written[] = [];
  /** Written shortly before a drop: sent again first on the next connection. */
  private toResend: Written[] = [];
  private failures = 0;

  constructor(
    readonly name: string,
    private readonly config: SyslogOutputConfig,
    private readonly options: SyslogSinkOptions,
  ) {
    this.clock = options.clock ?? realClock;
    this.port = config.port ?? DEFAULT_PORTS[config.transport];
    this.maxBytes = config.max_message_bytes ?? (config.transport === 'udp' ? 2048 : 65536);
    this.framing = config.framing ?? 'octet-counting';
    this.resendWindowMs = options.resendWindowMs ?? config.resend_window;
    this.header5424 = rfc5424HeaderFormatter(options.syslog, options.fields);
    this.header5424WithoutSd = rfc5424HeaderFormatter({ ...options.syslog, structuredData: false }, options.fields);
  }

  async open(): Promise<void> {
    if (this.config.transport === 'tls') {
      this.tls = readTlsFiles(this.name, this.config.tls);
      if (!this.config.tls.verify) {
        this.options.logger.warn(
          `output ${this.name}: TLS certificate verification is OFF (tls.verify: false) — the syslog server is not authenticated`,
          { output: this.name },
        );
      }
    }
    if (this.config.transport === 'udp') {
      const { address, family } = await lookup(this.config.host);
      this.udpAddress = address;
      this.udp = createSocket(family === 6 ? 'udp6' : 'udp4');
      this.udp.on('error', (error) => {
        this.options.logger.warn(`output ${this.name}: UDP socket error: ${error.message}`, { output: this.name });
      });
    }
  }

  /**
   * One record: header (from the event) + message (`record.text`), fitted to max_message_bytes.
   * Returns the record as two parts, or as one (the header) when it had to be shortened.
   */
  private record(record: OutputRecord): Parts {
    const context: EventContext = { accountId: record.accountId };
    const is5424 = this.config.rfc === 5424;
    // A record of another dataset (pushed) brings its own header fields.
    const fields = record.syslog;
    const header = is5424
      ? fields
        ? rfc5424Header(record.event, context, this.options.syslog, fields)
        : this.header5424(record.event, context)
      : rfc3164Header(record.event, context, this.options.syslog, fields ?? this.options.fields);
    const msg = record.text; // read once: a record may format its text on each read
    // At most 3 bytes per UTF-16 unit: most records need no byte count to know they fit.
    if ((header.length + msg.length) * 3 <= this.maxBytes) return { header, msg, truncated: false };
    const withoutSd =
      is5424 && this.options.syslog.structuredData
        ? () =>
            fields
              ? rfc5424Header(record.event, context, { ...this.options.syslog, structuredData: false }, fields)
              : this.header5424WithoutSd(record.event, context)
        : undefined;
    const fitted = fitRecord(header, msg, this.config.format, this.maxBytes, withoutSd);
    return { header: fitted.text, msg: '', truncated: fitted.truncated };
  }

  async deliver(records: readonly OutputRecord[]): Promise<DeliveryResult> {
    if (records.length === 0) return { status: 'delivered' };
    const parts = records.map((r) => this.record(r));
    let truncated = 0;
    for (const part of parts) if (part.truncated) truncated++;
    if (truncated > 0) {
      this.options.onTruncated?.(truncated);
      this.options.logger.warn(
        `output ${this.name}: ${truncated} record(s) longer than max_message_bytes (${this.maxBytes}) were shortened`,
        { output: this.name },
      );
    }
    const result =
      this.config.transport === 'udp'
        ? await this.sendUdp(parts)
        : this.config.transport === 'relp'
          ? await this.sendRelp(records, parts)
          : await this.sendStream(parts);
    if (result.status === 'delivered') this.failures = 0;
    return result;
  }

  /**
   * RELP: every message is confirmed by the server; a retried batch sends only what was not
   * (a confirmation lost with the connection is the one way to a duplicate).
   */
  private async sendRelp(records: readonly OutputRecord[], parts: Parts[]): Promise<DeliveryResult> {
    let confirmed = this.relpConfirmed.get(records);
    if (!confirmed) {
      confirmed = new Uint8Array(records.length);
      this.relpConfirmed.set(records, confirmed);
    }
    const flags = confirmed;
    const pending: number[] = [];
    for (let i = 0; i < parts.length; i++) if (flags[i] === 0) pending.push(i);
    try {
      if (!this.relp?.alive) {
        this.relp = await RelpSession.open(this.config.host, this.port, this.config.connect_timeout);
        if (this.connects++ > 0) this.options.onReconnect?.();
      }
      const messages = pending.map((i) => Buffer.from(`${parts[i]?.header ?? ''}${parts[i]?.msg ?? ''}`, 'utf8'));
      await this.relp.sendAll(messages, this.config.write_timeout, (k) => {
        const index = pending[k];
        if (index !== undefined) flags[index] = 1;
      });
      return { status: 'delivered' };
    } catch (error) {
      this.relp?.destroy();
      this.relp = undefined;
      return this.retry(error as Error);
    }
  }

  private async sendUdp(parts: Parts[]): Promise<DeliveryResult> {
    const socket = this.udp;
    const address = this.udpAddress;
    if (!socket || address === undefined)
      return { status: 'retry', error: new Error(`output ${this.name} is not open`) };
    try {
      for (const { header, msg } of parts) {
        const data = Buffer.from(header + msg, 'utf8');
        await new Promise<void>((resolve, reject) => {
          socket.send(data, this.port, address, (error) => (error ? reject(error) : resolve()));
        });
      }
      return { status: 'delivered' };
    } catch (error) {
      return this.retry(error as Error);
    }
  }

  private async sendStream(parts: Parts[]): Promise<DeliveryResult> {
    const queue = this.config.queue_size;
    const framed = new FramedBuffer(this.framing);
    for (let i = 0; i < parts.length; i += queue) {
      for (let j = i; j < Math.min(i + queue, parts.length); j++) {
        const part = parts[j];
        if (part) framed.add(part.header, part.msg);
      }
      const records = framed.count;
      const data = framed.take();
      try {
        const connection = await this.connectAndResend();
        await connection.write(data, this.config.write_timeout);
      } catch (error) {
        return this.failure(error as Error);
      }
      // write() rejects when the connection died before the socket took the data; a death after
      // this point is seen by onDrop, which queues this batch for a resend.
      this.remember({ at: this.clock.now(), data, records });
    }
    return { status: 'delivered' };
  }

  /** Connects if needed and first sends again whatever may have been lost in a drop. */
  private async connectAndResend(): Promise<SyslogConnection> {
    const connection = await this.connect();
    for (let again = this.toResend[0]; again; again = this.toResend[0]) {
      await connection.write(again.data, this.config.write_timeout);
      this.toResend.shift();
      this.remember({ ...again, at: this.clock.now() });
    }
    return connection;
  }

  private failure(error: Error): DeliveryResult {
    if (isCertificateError(error)) {
      return {
        status: 'fatal',
        error: new Error(
          `output ${this.name}: the certificate of ${this.config.host}:${this.port} is not trusted (${(error as NodeJS.ErrnoException).code ?? ''}: ${error.message}); set tls.ca_file to the CA that signed it (and tls.servername if the name differs)`,
        ),
      };
    }
    this.dropConnection();
    return this.retry(error);
  }

  /**
   * Keeps what was written within the resend window, whatever batch it belonged to: several
   * batches can sit unread in the kernel buffers of both ends when a connection drops.
   */
  private remember(written: Written): void {
    this.recent.push(written);
    const oldest = written.at - this.resendWindowMs;
    let drop = 0;
    while (drop < this.recent.length && (this.recent[drop]?.at ?? 0) < oldest) drop++;
    if (drop > 0) this.recent.splice(0, drop);
  }

  private async connect(): Promise<SyslogConnection> {
    if (this.connection?.alive) return this.connection;
    const connection = await SyslogConnection.open({
      transport: this.config.transport === 'tls' ? 'tls' : 'tcp',
      host: this.config.host,
      port: this.port,
      timeoutMs: this.config.connect_timeout,
      tls: { ...this.tls, verify: this.config.tls.verify, servername: this.config.tls.servername },
    });
    if (this.connects++ > 0) this.options.onReconnect?.();
    connection.whenDead((error) => {
      if (this.connection !== connection) return;
      this.onDrop(error);
    });
    this.connection = connection;
    return connection;
  }

  /** A drop: keep what was written recently for a resend on the next connection. */
  private onDrop(error: Error): void {
    const now = this.clock.now();
    const lost = this.recent.filter((w) => now - w.at <= this.resendWindowMs);
    this.recent = [];
    this.toResend.push(...lost);
    this.connection = undefined;
    if (lost.length > 0) {
      this.options.logger.warn(
        `output ${this.name}: connection to ${this.config.host}:${this.port} lost (${error.message}); resending the last ${lost.reduce((n, w) => n + w.records, 0)} record(s) on reconnect`,
        { output: this.name },
      );
    }
  }

  private dropConnection(): void {
    const connection = this.connection;
    if (connection?.alive) {
      this.onDrop(new Error('write failed'));
    }
    this.connection = undefined;
  }

  private retry(error: Error): DeliveryResult {
    const delay = backoffDelay(this.failures++, { baseMs: 500, capMs: 30_000 });
    return {
      status: 'retry',
      error: new Error(`syslog ${this.config.transport}://${this.config.host}:${this.port}: ${error.message}`, {
        cause: error,
      }),
      retryAfterMs: delay,
    };
  }

  position(): undefined {
    return undefined;
  }

  reopen(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Waits out the resend window so a drop right after the last batch is still caught (and the
   * batch resent), then ends the connection cleanly.
   */
  async close(): Promise<void> {
    await this.relp?.close(2000);
    this.relp = undefined;
    if (this.udp) {
      this.udp.close();
      this.udp = undefined;
    }
    const last = this.recent[this.recent.length - 1];
    const wait = last ? last.at + Math.min(this.resendWindowMs, 250) - this.clock.now() : 0;
    if (wait > 0) await this.clock.sleep(wait);
    for (let attempt = 0; attempt < 5 && this.toResend.length > 0; attempt++) {
      try {
        await this.connectAndResend();
      } catch (error) {
        this.dropConnection();
        this.options.logger.warn(`output ${this.name}: resend before closing failed (${(error as Error).message})`, {
          output: this.name,
        });
        await this.clock.sleep(backoffDelay(attempt, { baseMs: 500, capMs: 5000 }));
      }
    }
    if (this.toResend.length > 0) {
      this.options.logger.error(
        `output ${this.name}: ${this.toResend.reduce((n, w) => n + w.records, 0)} record(s) written just before the connection dropped could not be resent before exit`,
        { output: this.name },
      );
    }
    await this.connection?.end(2000);
    this.connection = undefined;
  }
}
