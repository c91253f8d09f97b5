/**
 * Collects lines and writes them in large chunks, waiting for 'drain' so a slow reader of
 * stdout slows the producer instead of growing memory. Each line is encoded into a buffer as it
 * arrives: measured faster than joining 64 KiB of strings and encoding them at the end (the
 * joined string's many pieces are copied once more to be flattened).
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { LineBuffer } from '../sink/bytes.js';

const FLUSH_AT = 64 * 1024;

export class BufferedWriter {
  private lines = new LineBuffer(FLUSH_AT * 2);

  constructor(private readonly stream: Writable) {}

  add(line: string): void {
    this.lines.add(line);
  }

  async flushIfFull(): Promise<void> {
    if (this.lines.used >= FLUSH_AT) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.lines.used === 0) return;
    const chunk = this.lines.contents();
    this.lines = new LineBuffer(FLUSH_AT * 2); // the stream may still hold the old one
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
