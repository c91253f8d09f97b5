/**
 * A Logpush upload body, streamed: gunzip when it is gzip (`Content-Encoding: gzip` or the gzip
 * magic bytes), split into NDJSON lines, with the limits a receiver open to the internet needs:
 * the body as sent (`max_body`), the decompressed size, and a decompression-bomb guard on the
 * ratio. Nothing is buffered beyond one chunk and one line, so memory stays flat in the body size.
 */
import { createGunzip } from 'node:zlib';
import { JsonElementSplitter, JsonSplitError } from '../source/json-splitter.js';

export interface BodyLimits {
  /** Bytes as received (compressed). */
  maxBody: number;
  /** Bytes after gunzip. Logpush's max_upload_bytes is at most 1 GB uncompressed. */
  maxDecompressed: number;
  /** Decompressed ÷ received past which the body is a bomb (NDJSON logs compress ~10–30×). */
  maxRatio: number;
  /** One line; longer is refused (a record of Cloudflare's datasets is a few KB). */
  maxLine: number;
}

/** Decompressed bytes zlib may produce ahead of the reader (then it waits for the reader). */
const READ_AHEAD = 4 * 2 ** 20;

export const DEFAULT_BODY_LIMITS: BodyLimits = {
  maxBody: 100 * 2 ** 20,
  maxDecompressed: 2 ** 30,
  maxRatio: 200,
  maxLine: 2 ** 20,
};

/** Why a body was refused: the HTTP status to answer and a stable code. */
export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413,
    readonly code: 'ERR_PUSH_GZIP' | 'ERR_PUSH_TOO_LARGE' | 'ERR_PUSH_BOMB' | 'ERR_PUSH_LINE' | 'ERR_PUSH_JSON',
    message: string,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

export interface BodyLine {
  text: string;
  /** 1-based, counting empty lines too (as an editor shows the file); where it starts. */
  number: number;
  /** An element of a JSON array body: its text may span lines (pretty-printed). */
  element?: true;
}

/** The decompressed bytes of `body` (gzip detected by header or magic), limits enforced. */
async function* decoded(
  body: AsyncIterable<Buffer>,
  contentEncoding: string | undefined,
  limits: BodyLimits,
): AsyncGenerator<Buffer> {
  const iterator = body[Symbol.asyncIterator]();
  let received = 0;
  const take = async (): Promise<Buffer | undefined> => {
    const next = await iterator.next();
    if (next.done === true) return undefined;
    const chunk = next.value;
    received += chunk.length;
    if (received > limits.maxBody)
      throw new BodyError(413, 'ERR_PUSH_TOO_LARGE', `the body is over max_body (${limits.maxBody} bytes)`);
    return chunk;
  };
  const first = await take();
  if (first === undefined) return;
  const encoding = contentEncoding?.trim().toLowerCase();
  const gzip =
    encoding === 'gzip' ||
    encoding === 'x-gzip' ||
    (encoding !== 'identity' && first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b);
  if (!gzip) {
    yield first;
    for (let chunk = await take(); chunk !== undefined; chunk = await take()) yield chunk;
    return;
  }
  const gunzip = createGunzip({ chunkSize: 64 * 1024 });
  const out: Buffer[] = [];
  // Set by zlib's callbacks while this generator awaits.
  const state: { failure?: Error; refused?: BodyError; ended: boolean } = { ended: false };
  /** Wakes a wait for output; `writeDone` ends a write (early when zlib refused or failed: it may never call back). */
  let wake: (() => void) | undefined;
  let writeDone: (() => void) | undefined;
  let decompressed = 0;
  /** Decompressed bytes produced and not yet handed on. */
  let held = 0;
  // Counted as zlib produces it, so a bomb is stopped within one output chunk, not one input chunk.
  gunzip.on('data', (chunk: Buffer) => {
    decompressed += chunk.length;
    if (decompressed > limits.maxDecompressed) {
      state.refused = new BodyError(
        413,
        'ERR_PUSH_TOO_LARGE',
        `the body is over ${limits.maxDecompressed} bytes decompressed`,
      );
    } else if (decompressed > 1024 * 1024 && decompressed > limits.maxRatio * received) {
      state.refused = new BodyError(
        413,
        'ERR_PUSH_BOMB',
        `the body decompresses more than ${limits.maxRatio} times its size (a decompression bomb?)`,
      );
    }
    if (state.refused) {
      gunzip.destroy();
      writeDone?.();
    } else {
      out.push(chunk);
      held += chunk.length;
    }
    wake?.();
  });
  gunzip.on('error', (error) => {
    state.failure = error;
    writeDone?.();
    wake?.();
  });
  gunzip.on('end', () => {
    state.ended = true;
    wake?.();
  });
  // zlib inflates in the thread pool while the lines of what it produced are handed on; it is fed
  // the next input chunk while less than READ_AHEAD of its output waits (a high-water mark).
  let writing = false;
  let taking = false;
  let more = true;
  let takeFailure: Error | undefined;
  const feed = (): void => {
    if (writing || taking || !more || held >= READ_AHEAD || state.refused || state.failure) return;
    taking = true;
    take().then(
      (input) => {
        taking = false;
        if (input === undefined) {
          more = false;
          gunzip.end();
        } else if (!state.refused && !state.failure) write(input);
        wake?.();
      },
      (error: unknown) => {
        taking = false;
        takeFailure = error instanceof Error ? error : new Error(`the body could not be read: ${String(error)}`);
        wake?.();
      },
    );
  };
  /** One input chunk to zlib; when zlib took it, the next is fed (feed() decides whether it may). */
  const write = (input: Buffer): void => {
    writing = true;
    writeDone = () => {
      writing = false;
      feed();
      wake?.();
    };
    gunzip.write(input, () => writeDone?.());
  };
  write(first);
  for (;;) {
    if (state.refused) throw state.refused;
    if (state.failure)
      throw new BodyError(400, 'ERR_PUSH_GZIP', `the body is not valid gzip (${state.failure.message})`);
    if (takeFailure !== undefined) throw takeFailure;
    const chunk = out.shift();
    if (chunk !== undefined) {
      held -= chunk.length;
      feed();
      yield chunk;
      continue;
    }
    if (state.ended) return;
    await new Promise<void>((resolve) => (wake = resolve));
  }
}

/** The body's lines (CR LF or LF; empty lines skipped but counted). */
export async function* bodyLines(
  body: AsyncIterable<Buffer>,
  contentEncoding: string | undefined,
  limits: BodyLimits = DEFAULT_BODY_LIMITS,
): AsyncGenerator<BodyLine> {
  for await (const lines of bodyLineBatches(body, contentEncoding, limits)) yield* lines;
}

/** The index of the first character that is not JSON whitespace, or -1. */
function firstNonBlank(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return i;
  }
  return -1;
}

/**
 * The elements of a JSON array body (Logpush `output_options` with `batch_prefix: "["`,
 * `record_delimiter: ","`, `batch_suffix: "]"`), as lines; `text` is what follows the array's
 * opening bracket's chunk, `linesBefore` the lines the body had before it.
 */
class ArrayBody {
  private elements: BodyLine[] = [];
  private readonly splitter: JsonElementSplitter;

  constructor(
    private readonly linesBefore: number,
    private readonly maxElement: number,
  ) {
    this.splitter = new JsonElementSplitter(
      (e) => this.elements.push({ text: e.text, number: e.line + this.linesBefore, element: true }),
      maxElement,
    );
  }

  push(text: string): BodyLine[] {
    this.guard(() => this.splitter.push(text));
    return this.take();
  }

  end(): BodyLine[] {
    this.guard(() => this.splitter.end());
    return this.take();
  }

  private take(): BodyLine[] {
    const out = this.elements;
    this.elements = [];
    return out;
  }

  private guard(step: () => unknown): void {
    try {
      step();
    } catch (error) {
      if (!(error instanceof JsonSplitError)) throw error;
      const line = error.line + this.linesBefore;
      if (error.tooLong)
        throw new BodyError(
          413,
          'ERR_PUSH_LINE',
          `the record at line ${line} is longer than ${this.maxElement} characters`,
        );
      throw new BodyError(
        400,
        'ERR_PUSH_JSON',
        `the body is a JSON array that is not valid JSON at line ${line}: ${error.message}`,
      );
    }
  }
}

/**
 * The body's lines, as many at a time as each decoded chunk holds: one await per chunk, not per
 * line (an async generator's yield costs a promise and a turn of the microtask queue). A body
 * whose first character is `[` is a JSON array: its elements are the lines.
 */
export async function* bodyLineBatches(
  body: AsyncIterable<Buffer>,
  contentEncoding: string | undefined,
  limits: BodyLimits = DEFAULT_BODY_LIMITS,
): AsyncGenerator<BodyLine[]> {
  let carry = '';
  let number = 0;
  let array: ArrayBody | undefined;
  let decided = false;
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of decoded(body, contentEncoding, limits)) {
    const decodedText = decoder.decode(chunk, { stream: true });
    if (array) {
      const elements = array.push(decodedText);
      if (elements.length > 0) yield elements;
      continue;
    }
    if (!decided) {
      const first = firstNonBlank(decodedText);
      if (first >= 0) {
        decided = true;
        if (decodedText.charCodeAt(first) === 91 /* [ */) {
          // What came before is blank: count its lines so line numbers stay the body's.
          const before = carry + decodedText.slice(0, first);
          array = new ArrayBody(number + (before.split('\n').length - 1), limits.maxLine);
          carry = '';
          const elements = array.push(decodedText.slice(first));
          if (elements.length > 0) yield elements;
          continue;
        }
      }
    }
    const text = carry + decodedText;
    const lines: BodyLine[] = [];
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      number++;
      const line = withoutCr(text.slice(start, end));
      if (!isBlank(line)) lines.push({ text: line, number });
      start = end + 1;
    }
    carry = text.slice(start);
    if (lines.length > 0) yield lines;
    if (carry.length > limits.maxLine)
      throw new BodyError(413, 'ERR_PUSH_LINE', `line ${number + 1} is longer than ${limits.maxLine} characters`);
  }
  if (array) {
    const tail = decoder.decode();
    const elements = [...(tail === '' ? [] : array.push(tail)), ...array.end()];
    if (elements.length > 0) yield elements;
    return;
  }
  carry += decoder.decode();
  if (!isBlank(carry)) yield [{ text: withoutCr(carry), number: number + 1 }];
}

const withoutCr = (line: string): string =>
  line.charCodeAt(line.length - 1) === 13 ? line.slice(0, line.length - 1) : line;

/** Empty or whitespace only; a JSON line starts with `{`, so that is answered at the first character. */
const isBlank = (line: string): boolean => line.charCodeAt(0) !== 123 /* { */ && line.trim() === '';

/** Logpush's validation upload (`{"content":"tests"}`, or a plain `test`): answered 200, shipped nowhere. */
export function isValidationUpload(lines: readonly BodyLine[]): boolean {
  if (lines.length !== 1) return false;
  const text = lines[0]?.text.trim() ?? '';
  if (text === 'test' || text === 'tests') return true;
  try {
    const value: unknown = JSON.parse(text);
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as { content?: unknown }).content === 'tests' &&
      Object.keys(value).length === 1
    );
  } catch {
    return false;
  }
}
