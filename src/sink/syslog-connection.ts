/**
 * One TCP or TLS connection to a syslog server. TLS always goes through `tls.connect` with
 * verification as configured (TLS 1.2+): a reconnect is a fresh verified handshake, never plain
 * TCP. The connection reports its own death (error, close, or the peer's FIN) so the sink can
 * resend what may not have been read.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { TlsFiles } from './tls-files.js';

export interface ConnectOptions {
  transport: 'tcp' | 'tls';
  host: string;
  port: number;
  timeoutMs: number;
  tls: TlsFiles & { verify: boolean; servername?: string | undefined };
}

/** Errors that a retry cannot fix: the server's certificate is not trusted or not for this host. */
const CERT_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

export function isCertificateError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && CERT_ERRORS.has(code);
}

/** How long a fresh TLS 1.3 connection is watched for a refusal before it is used. */
const TLS13_SETTLE_MS = 150;

export class SyslogConnection {
  private dead: Error | undefined;
  private onDeath: ((error: Error) => void) | undefined;

  private constructor(private readonly socket: Socket | TLSSocket) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    // The server never talks back; reading drains any data and notices its FIN.
    socket.on('data', () => undefined);
    socket.on('end', () => this.die(new Error('the server closed the connection')));
    socket.on('error', (error: Error) => this.die(error));
    socket.on('close', () => this.die(new Error('connection closed')));
  }

  static open(options: ConnectOptions): Promise<SyslogConnection> {
    return new Promise((resolve, reject) => {
      const socket =
        options.transport === 'tls'
          ? tlsConnect({
              host: options.host,
              port: options.port,
              servername: options.tls.servername ?? (isIP(options.host) === 0 ? options.host : undefined),
              rejectUnauthorized: options.tls.verify,
              minVersion: 'TLSv1.2',
              ...(options.tls.ca ? { ca: options.tls.ca } : {}),
              ...(options.tls.cert ? { cert: options.tls.cert } : {}),
              ...(options.tls.key ? { key: options.tls.key } : {}),
            })
          : netConnect({ host: options.host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy(new Error(`connect timed out after ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      let settled = false;
      const fail = (error: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        if (!settled) reject(error);
        settled = true;
      };
      socket.once('error', fail);
      socket.once(options.transport === 'tls' ? 'secureConnect' : 'connect', () => {
        const ready = (): void => {
          if (settled) return;
          if (socket.destroyed) {
            fail(
              new Error(
                'the server closed the connection right after the TLS handshake (does it require a client certificate? see tls.cert_file)',
              ),
            );
            return;
          }
          settled = true;
          clearTimeout(timer);
          socket.off('error', fail);
          resolve(new SyslogConnection(socket));
        };
        // TLS 1.3: the server judges our certificate after our side of the handshake is done and
        // answers a refusal with an alert a round trip later. Wait that long (an error then rejects
        // through `fail`) so that a refused client is never taken for a working connection.
        if (options.transport === 'tls' && (socket as TLSSocket).getProtocol() === 'TLSv1.3')
          setTimeout(ready, TLS13_SETTLE_MS);
        else ready();
      });
    });
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  whenDead(callback: (error: Error) => void): void {
    this.onDeath = callback;
    if (this.dead) callback(this.dead);
  }

  private die(error: Error): void {
    if (this.dead) return;
    this.dead = error;
    this.socket.destroy();
    this.onDeath?.(error);
  }

  /**
   * Resolves when the data is handed to the kernel; rejects if the connection dies first, or when
   * the kernel has not taken it within `timeoutMs` (the peer stopped reading: a zero TCP window),
   * which kills the connection.
   */
  write(data: Buffer, timeoutMs: number): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.die(
          new Error(
            `write timed out after ${timeoutMs} ms: the server accepts the connection but stopped reading (write_timeout)`,
          ),
        );
      }, timeoutMs);
      this.socket.write(data, (error) => {
        clearTimeout(timer);
        if (error) reject(this.dead ?? error);
        else if (this.dead) reject(this.dead);
        else resolve();
      });
    });
  }

  /** Ends the connection after everything written is sent (FIN), or destroys it after `timeoutMs`. */
  end(timeoutMs: number): Promise<void> {
    if (this.dead) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end();
    });
  }
}
