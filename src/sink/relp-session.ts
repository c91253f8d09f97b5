/**
 * A RELP session (the Reliable Event Logging Protocol of librelp and rsyslog's imrelp): every
 * message is a numbered frame the server answers with `rsp 200 OK` once it has taken the message,
 * so the sender knows what was received, unlike plain TCP.
 *
 * Frame: `TXNR SP COMMAND SP DATALEN [SP DATA] LF`. The session opens with `open` (offering
 * `relp_version=0` and the `syslog` command) and ends with `close`; the server may announce
 * `serverclose` (txnr 0) before it goes.
 */
import { connect as netConnect, type Socket } from 'node:net';

const OFFER = 'relp_version=0\nrelp_software=cf-access-shipper\ncommands=syslog';
/** Messages sent and not yet answered, at most (librelp's default window is 128). */
export const RELP_WINDOW = 128;
const TXNR_MAX = 999_999_999;

export class RelpError extends Error {
  constructor(
    message: string,
    /** The server answered with a refusal (not a broken connection). */
    readonly refused = false,
  ) {
    super(message);
  }
}

interface Waiter {
  resolve: (data: string) => void;
  reject: (error: Error) => void;
}

export class RelpSession {
  private txnr = 0;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly waiting = new Map<number, Waiter>();
  private dead: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', (error: Error) => this.die(error));
    socket.on('close', () => this.die(new Error('the RELP server closed the connection')));
  }

  /** Connects and opens the session; rejects when the server refuses or does not answer in time. */
  static async open(host: string, port: number, timeoutMs: number): Promise<RelpSession> {
    const socket = netConnect({ host, port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    const session = new RelpSession(socket);
    const answer = await session.command('open', OFFER, timeoutMs);
    if (!answer.startsWith('200')) {
      session.socket.destroy();
      throw new RelpError(`the RELP server refused the session: ${answer.slice(0, 200)}`, true);
    }
    if (!/commands=[^\n]*\bsyslog\b/.test(answer)) {
      session.socket.destroy();
      throw new RelpError('the RELP server does not offer the syslog command', true);
    }
    return session;
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  /**
   * Sends `messages` in order, at most RELP_WINDOW unanswered at a time, calling `onAck(i)` as the
   * server confirms message i. Rejects on the first refusal, a broken connection, or an answer
   * missing after `timeoutMs`; messages confirmed before that stay confirmed.
   */
  async sendAll(messages: readonly Buffer[], timeoutMs: number, onAck: (index: number) => void): Promise<void> {
    const inFlight: Promise<void>[] = [];
    const outcome: { failure?: Error } = {};
    for (let i = 0; i < messages.length; i++) {
      if (inFlight.length >= RELP_WINDOW) await inFlight.shift();
      if (outcome.failure) break;
      const index = i;
      const message = messages[i];
      if (message === undefined) continue;
      const answer = this.command('syslog', message, timeoutMs).then(
        (data) => {
          if (data.startsWith('200')) onAck(index);
          else outcome.failure ??= new RelpError(`the RELP server refused a message: ${data.slice(0, 200)}`, true);
        },
        (error: unknown) => {
          outcome.failure ??= error as Error;
        },
      );
      inFlight.push(answer);
    }
    await Promise.all(inFlight);
    if (outcome.failure) throw outcome.failure;
  }

  /** Closes the session politely (close, its answer), or destroys it after `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    if (this.dead) return;
    try {
      await this.command('close', '', timeoutMs);
    } catch {
      // Closing anyway.
    }
    this.socket.end();
    this.socket.destroy();
  }

  destroy(): void {
    this.die(new Error('session closed'));
  }

  private command(name: string, data: string | Buffer, timeoutMs: number): Promise<string> {
    if (this.dead) return Promise.reject(this.dead);
    this.txnr = this.txnr >= TXNR_MAX ? 1 : this.txnr + 1;
    const txnr = this.txnr;
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const head = Buffer.from(body.length > 0 ? `${txnr} ${name} ${body.length} ` : `${txnr} ${name} 0`, 'ascii');
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.die(new Error(`no RELP answer within ${timeoutMs} ms (write_timeout)`));
      }, timeoutMs);
      this.waiting.set(txnr, {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.socket.write(Buffer.concat([head, body, Buffer.from('\n')]));
    });
  }

  /** Parses answers: `TXNR rsp LEN DATA LF`, and `0 serverclose 0`. */
  private read(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const firstSpace = this.buffer.indexOf(0x20);
      const secondSpace = firstSpace < 0 ? -1 : this.buffer.indexOf(0x20, firstSpace + 1);
      if (secondSpace < 0) return;
      // DATALEN ends at a space (data follows) or at LF (no data).
      let end = secondSpace + 1;
      while (end < this.buffer.length && this.buffer[end] !== 0x20 && this.buffer[end] !== 0x0a) end++;
      if (end >= this.buffer.length) return;
      const txnr = Number(this.buffer.subarray(0, firstSpace).toString('ascii'));
      const command = this.buffer.subarray(firstSpace + 1, secondSpace).toString('ascii');
      const length = Number(this.buffer.subarray(secondSpace + 1, end).toString('ascii'));
      if (!Number.isInteger(txnr) || !Number.isInteger(length)) {
        this.die(new Error('the RELP server sent a malformed frame'));
        return;
      }
      const dataStart = this.buffer[end] === 0x20 ? end + 1 : end;
      const frameEnd = dataStart + length; // the trailer LF is here
      if (this.buffer.length < frameEnd + 1) return;
      const data = this.buffer.subarray(dataStart, frameEnd).toString('utf8');
      this.buffer = this.buffer.subarray(frameEnd + 1);
      if (command === 'serverclose') {
        this.die(new Error('the RELP server closed the session (serverclose)'));
        return;
      }
      const waiter = this.waiting.get(txnr);
      if (command === 'rsp' && waiter) {
        this.waiting.delete(txnr);
        waiter.resolve(data);
      }
    }
  }

  private die(error: Error): void {
    if (this.dead) return;
    this.dead = error;
    this.socket.destroy();
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}
