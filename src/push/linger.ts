/**
 * A lingering close for a refused push (RFC 9112 §9.6). Closing a connection while its request
 * body is still arriving makes the kernel answer the unread bytes with a reset, which can erase
 * the answer before the client read it: a client still sending then sees ECONNRESET instead of
 * the 401, 413 or 503 it was sent, and Logpush would report a network error, not the reason. So
 * the answer is written whole, the rest of the body is read and dropped — up to LINGER_BYTES or
 * for LINGER_MS, whichever comes first — and only then is the response ended, which closes the
 * connection (what Apache and nginx do).
 */
import type { IncomingMessage } from 'node:http';

export interface LingerLimits {
  /** Bytes of an unwanted body read and dropped before the connection is cut anyway. */
  bytes: number;
  /** How long an unwanted body is read and dropped before the connection is cut anyway. */
  ms: number;
}

export const LINGER: LingerLimits = { bytes: 8 * 2 ** 20, ms: 2_000 };

/** Calls `done` once the request's body is over or the limits are reached; reads and drops it meanwhile. */
export function afterLinger(req: IncomingMessage, done: (dropped: number) => void, limits = LINGER): void {
  if (req.complete || req.socket.destroyed) {
    done(0);
    return;
  }
  let dropped = 0;
  let over = false;
  const finish = (): void => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    req.off('readable', drain);
    done(dropped);
  };
  // read() rather than resume(): a reader that gave up on the body part way may still listen for
  // 'readable', and then resume() would not start the flow.
  const drain = (): void => {
    for (let chunk = req.read() as Buffer | null; chunk !== null; chunk = req.read() as Buffer | null) {
      dropped += chunk.length;
      if (dropped > limits.bytes) return finish();
    }
  };
  const timer = setTimeout(finish, limits.ms);
  timer.unref();
  req.on('readable', drain);
  req.once('end', finish);
  req.once('close', finish);
  // What was buffered before this listener is not announced again.
  drain();
}
