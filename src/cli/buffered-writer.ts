/**
 * Collects lines and writes them in large chunks, waiting for 'drain' so a slow reader of
 * stdout slows the producer instead of growing memory. Each line is encoded into a buffer as it
 * arrives: measured faster than joining 64 KiB of strings and encoding them at the end (the
 * joined string's many pieces are copied once more to be flattened).
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { withRoom } from '../sink/bytes.js';

const FLUSH_AT = 64 * 1024;

export class BufferedWriter {
  private buffer = Buffer.allocUnsafe(FLUSH_AT * 2);
  private used = 0;

  constructor(private readonly stream: Writable) {}

  add(line: string): void {
    this.buffer = withRoom(this.buffer, this.used, line.length * 3 + 1);
    this.used += this.buffer.write(line, this.used);
    this.buffer[this.used++] = 10;
  }

  async flushIfFull(): Promise<void> {
    if (this.used >= FLUSH_AT) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const chunk = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafe(FLUSH_AT * 2); // the stream may still hold the old one
    this.used = 0;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
