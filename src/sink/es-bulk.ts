/**
 * Elasticsearch `_bulk` as the elasticsearch output speaks it, pure: a `create` action per event
 * with `_id` = the event's content hash (so a retried request can never index an event twice:
 * Elasticsearch answers 409 for an id it has), NDJSON bodies cut by event count and bytes, and what
 * each item's answer means for delivery.
 */
import { eventHash } from '../format/identity.js';
import type { OutputRecord } from './types.js';

export interface BulkChunk {
  records: OutputRecord[];
  body: string;
  bytes: number;
}

/**
 * The document id: the canonical content hash (keys sorted), not the output's cheaper record id —
 * here the id is the one guard against a second copy, across restarts and re-reads too, so it must
 * not change should the API ever reorder an event's keys.
 */
export const documentId = (record: OutputRecord): string => eventHash(record.event);

/** The action line of one event (the index is in the request path). */
export const createAction = (id: string): string => `{"create":{"_id":${JSON.stringify(id)}}}`;

/** Bulk bodies of at most `maxEvents` events and about `maxBytes` bytes (one event always fits one body). */
export function bulkChunks(records: readonly OutputRecord[], maxEvents: number, maxBytes: number): BulkChunk[] {
  const chunks: BulkChunk[] = [];
  let current: BulkChunk = { records: [], body: '', bytes: 0 };
  for (const record of records) {
    const entry = `${createAction(documentId(record))}\n${record.text}\n`;
    const size = Buffer.byteLength(entry);
    if (current.records.length > 0 && (current.records.length >= maxEvents || current.bytes + size > maxBytes)) {
      chunks.push(current);
      current = { records: [], body: '', bytes: 0 };
    }
    current.records.push(record);
    current.body += entry;
    current.bytes += size;
  }
  if (current.records.length > 0) chunks.push(current);
  return chunks;
}

/** What one bulk item's answer means. */
export type ItemVerdict =
  /** Indexed now (201), or already there from an earlier request (409 on create). */
  | { kind: 'done'; already: boolean }
  /** Try this item again: the node was busy (429, rejected execution, circuit breaker) or failing (5xx). */
  | { kind: 'retry'; reason: string }
  /** The document will never be accepted as it is (a mapping error): dead-letter it. */
  | { kind: 'rejected'; reason: string }
  /** Nothing of this output can be indexed until someone acts (privileges, missing data stream). */
  | { kind: 'fatal'; reason: string };

interface BulkItemError {
  type?: string;
  reason?: string;
}

export interface BulkItem {
  status: number;
  error?: BulkItemError;
}

const BUSY_TYPES = new Set(['es_rejected_execution_exception', 'circuit_breaking_exception']);

const describe = (item: BulkItem): string =>
  `${item.status} ${item.error?.type ?? ''}${item.error?.reason ? `: ${item.error.reason}` : ''}`.trim();

export function itemVerdict(item: BulkItem): ItemVerdict {
  const { status } = item;
  if (status >= 200 && status < 300) return { kind: 'done', already: false };
  if (status === 409) return { kind: 'done', already: true };
  const type = item.error?.type ?? '';
  if (status === 429 || BUSY_TYPES.has(type) || status >= 500) return { kind: 'retry', reason: describe(item) };
  if (status === 401 || status === 403 || type === 'security_exception')
    return {
      kind: 'fatal',
      reason: `${describe(item)} (give the API key or user the create_doc privilege on the data stream)`,
    };
  if (status === 404 || type === 'index_not_found_exception')
    return {
      kind: 'fatal',
      reason: `${describe(item)} (the data stream does not exist and may not be created: run \`cf-access-shipper setup elasticsearch\` or allow auto-create)`,
    };
  return { kind: 'rejected', reason: describe(item) };
}

/** The items of a bulk response, in request order; throws when the answer is not a bulk response. */
export function bulkItems(response: unknown, expected: number): BulkItem[] {
  const items = (response as { items?: unknown } | null)?.items;
  if (!Array.isArray(items) || items.length !== expected)
    throw new Error(
      `the bulk response has ${Array.isArray(items) ? items.length : 'no'} items for ${expected} actions: not an Elasticsearch _bulk answer`,
    );
  return items.map((entry: unknown) => {
    const value = (entry as Record<string, unknown> | null)?.create as
      { status?: unknown; error?: BulkItemError } | undefined;
    if (value === undefined || typeof value.status !== 'number') throw new Error('a bulk item without create.status');
    return value.error === undefined ? { status: value.status } : { status: value.status, error: value.error };
  });
}
