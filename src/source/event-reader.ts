/**
 * Reads Cloudflare Access events from a byte stream in any of the shapes users have at hand:
 * NDJSON (one event per line), a JSON array, or a whole API response. Yields batches (one per
 * input chunk) so a caller can process a 1 GB file in flat memory with little per-event overhead.
 */
import { StringDecoder } from 'node:string_decoder';
import { type EventRecord, isEventRecord } from '../format/record.js';
import { JsonElementSplitter, JsonSplitError, type SplitElement } from './json-splitter.js';

export type ReadItem =
  /** `plain`: the JSON text had no backslash and no "=", so no string value needs CEF escaping. */
  | { kind: 'event'; event: EventRecord; line: number; plain: boolean }
  | { kind: 'error'; line: number; message: string };

/** How much input is examined to tell NDJSON from a JSON document. */
const SNIFF_BYTES = 1 << 20;

type Mode = 'ndjson' | 'document';

/** Decides the shape from the start of the input (see the README's `convert` section). */
export function sniffMode(head: string): Mode {
  const text = head.replace(/^\uFEFF/, '');
  const first = text.search(/\S/);
  if (first === -1) return 'ndjson';
  if (text[first] === '[') return 'document';
  if (text[first] !== '{') return 'ndjson';
  const lines = text.slice(first).split('\n');
  // No line break within the sniff window: a one-line document (an NDJSON event is never 1 MiB).
  if (lines.length === 1) return 'document';
  const firstLine = parseObject(lines[0] ?? '');
  if (firstLine) return Array.isArray(firstLine.result) || 'success' in firstLine ? 'document' : 'ndjson';
  const second = lines.slice(1, -1).find((l) => l.trim() !== '');
  return second !== undefined && parseObject(second) ? 'ndjson' : 'document';
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isEventRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

function toItem(text: string, line: number): ReadItem {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { kind: 'error', line, message: `not valid JSON (${(error as Error).message})` };
  }
  if (!isEventRecord(value)) return { kind: 'error', line, message: 'not a JSON object' };
  return { kind: 'event', event: value, line, plain: !text.includes('\\') && !text.includes('=') };
}

/** `input`: a stream, or a synchronous source of chunks (see cli/input-chunks.ts). */
export async function* readEventBatches(
  input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
): AsyncGenerator<ReadItem[]> {
  const decoder = new StringDecoder('utf8');
  const iterator = Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : input[Symbol.iterator]();
  let head = '';
  const pending: string[] = [];
  let ended = false;
  while (head.length < SNIFF_BYTES) {
    const next = await iterator.next();
    if (next.done === true) {
      ended = true;
      break;
    }
    const text = typeof next.value === 'string' ? next.value : decoder.write(next.value);
    head += text;
    pending.push(text);
  }
  if (ended) {
    const tail = decoder.end();
    if (tail !== '') pending.push(tail);
  }
  // A UTF-8 byte-order mark is dropped once, here, for every reader below.
  const firstText = pending.findIndex((text) => text !== '');
  if (firstText !== -1) pending[firstText] = (pending[firstText] ?? '').replace(/^\uFEFF/, '');
  async function* chunks(): AsyncGenerator<string> {
    yield* pending.splice(0);
    if (ended) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) break;
      yield typeof next.value === 'string' ? next.value : decoder.write(next.value);
    }
    const tail = decoder.end();
    if (tail !== '') yield tail;
  }
  const mode = sniffMode(head);
  if (mode === 'ndjson') yield* readNdjson(chunks());
  else yield* readDocument(chunks());
}

async function* readNdjson(chunks: AsyncIterable<string>): AsyncGenerator<ReadItem[]> {
  let carry = '';
  let line = 0;
  for await (const chunk of chunks) {
    const batch: ReadItem[] = [];
    let start: number;
    let nl = chunk.indexOf('\n');
    if (nl === -1) {
      carry += chunk;
      continue;
    }
    let text = carry + chunk.slice(0, nl);
    for (;;) {
      line++;
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (!isBlank(text)) batch.push(toItem(text, line));
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
      if (nl === -1) break;
      text = chunk.slice(start, nl);
    }
    carry = chunk.slice(start);
    if (batch.length > 0) yield batch;
  }
  if (carry.trim() !== '') yield [toItem(carry.replace(/\r$/, ''), line + 1)];
}

async function* readDocument(chunks: AsyncIterable<string>): AsyncGenerator<ReadItem[]> {
  let batch: ReadItem[] = [];
  let index = 0;
  const splitter = new JsonElementSplitter((element: SplitElement) => {
    index++;
    const item = toItem(element.text, element.line);
    batch.push(item.kind === 'error' ? { ...item, message: `element ${index}: ${item.message}` } : item);
  });
  try {
    for await (const chunk of chunks) {
      splitter.push(chunk);
      if (batch.length > 0) {
        yield batch;
        batch = [];
      }
    }
    const { kind, fields } = splitter.end();
    if (batch.length > 0) yield batch;
    if (kind === 'envelope' && fields.get('success') === 'false') {
      yield [
        {
          kind: 'error',
          line: 1,
          message: `the API response reports failure: ${fields.get('errors') ?? 'no errors given'}`,
        },
      ];
    }
  } catch (error) {
    if (batch.length > 0) yield batch;
    if (error instanceof JsonSplitError) {
      yield [{ kind: 'error', line: error.line, message: `${error.message}; reading stopped here` }];
      return;
    }
    throw error;
  }
}
