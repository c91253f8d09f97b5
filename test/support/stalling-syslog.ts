/**
 * A syslog TCP receiver that can stop reading: it accepts connections but leaves their data in
 * the kernel (a relay blocked on its disk, a zero TCP window) until `resume()`. It parses RFC 6587
 * octet-counted frames and keeps the JSON message of each record.
 */
import { createServer, type Server, type Socket } from 'node:net';

export class StallingSyslog {
  readonly messages: string[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private reading: boolean;
  connections = 0;

  constructor(options: { reading?: boolean } = {}) {
    this.reading = options.reading ?? true;
  }

  get port(): number {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new Error('not listening');
    return address.port;
  }

  async start(): Promise<this> {
    this.server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return this;
  }

  /** The JSON bodies received (one per record, duplicates included). */
  jsonLines(): string[] {
    return this.messages.map((m) => m.slice(m.indexOf('{')));
  }

  stall(): void {
    this.reading = false;
    for (const socket of this.sockets) socket.pause();
  }

  resume(): void {
    this.reading = true;
    for (const socket of this.sockets) socket.resume();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(socket: Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const space = buffer.indexOf(0x20);
        if (space < 0) break;
        const length = Number(buffer.subarray(0, space).toString('ascii'));
        if (buffer.length < space + 1 + length) break;
        this.messages.push(buffer.subarray(space + 1, space + 1 + length).toString('utf8'));
        buffer = buffer.subarray(space + 1 + length);
      }
    });
    if (!this.reading) socket.pause();
  }
}
