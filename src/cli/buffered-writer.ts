/**
 * Collects lines and writes them in large chunks, waiting for 'drain' so a slow reader of
 * stdout slows the producer instead of growing memory.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';

const FLUSH_AT = 64 * 1024;

export class BufferedWriter {
  private text = '';

  constructor(private readonly stream: Writable) {}

  add(line: string): void {
    this.text += `${line}\n`;
  }

  async flushIfFull(): Promise<void> {
    if (this.text.length >= FLUSH_AT) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.text === '') return;
    const text = this.text;
    this.text = '';
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
