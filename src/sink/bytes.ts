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
