/** Growing byte buffers for the encoders that write records straight into request bodies. */

/**
 * `buffer` if `extra` more bytes fit after its first `used` ones; otherwise a buffer at least
 * twice as large holding those `used` bytes.
 */
export function withRoom(buffer: Buffer<ArrayBuffer>, used: number, extra: number): Buffer<ArrayBuffer> {
  if (used + extra <= buffer.length) return buffer;
  const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, used + extra));
  buffer.copy(grown, 0, 0, used);
  return grown;
}

/** Lines encoded as UTF-8, each followed by a newline, into one growing buffer. */
export class LineBuffer {
  private buffer: Buffer<ArrayBuffer>;
  private length = 0;

  constructor(private readonly initialBytes: number) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written so far. */
  get used(): number {
    return this.length;
  }

  add(line: string): void {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    this.buffer = withRoom(this.buffer, this.length, line.length * 3 + 1);
    this.length += this.buffer.write(line, this.length);
    this.buffer[this.length++] = 10;
  }

  /** The lines written so far (a view: valid until the next add or clear). */
  contents(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /** Empty again; a buffer grown past `keepBytes` is given back for one of the initial size. */
  clear(keepBytes: number): void {
    this.length = 0;
    if (this.buffer.length > keepBytes) this.buffer = Buffer.allocUnsafe(this.initialBytes);
  }
}
