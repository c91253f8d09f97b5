/**
 * The identity of an event is a hash of its whole canonical content: `ray_id` repeats across
 * rows of one request, so it cannot be the key. Canonical = keys sorted at every depth, then
 * JSON (a sorted copy lets V8's fast JSON.stringify do the work).
 */
import { hash } from 'node:crypto';
import type { EventRecord } from '../format/record.js';

/** Sorted key orders by key sequence: rows of one API share a shape, so this stays tiny. */
const keyOrders = new Map<string, string[]>();

function sortedCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(sortedCopy);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  const signature = keys.join('\u0000');
  let order = keyOrders.get(signature);
  if (!order) {
    order = [...keys].sort();
    if (keyOrders.size < 256) keyOrders.set(signature, order);
  }
  const out: Record<string, unknown> = {};
  for (const key of order) out[key] = sortedCopy(record[key]);
  return out;
}

export function canonicalJson(event: EventRecord): string {
  return JSON.stringify(sortedCopy(event));
}

/** 96 bits of SHA-256, base64url: 16 characters, collisions negligible at any realistic volume. */
export function eventHash(event: EventRecord): string {
  return hash('sha256', canonicalJson(event), 'base64url').slice(0, 16);
}

/**
 * A cheaper identity for outputs' own bookkeeping (HEC's pending acks): the same 96 bits over the
 * event as the API wrote it, without sorting keys. The same row read again has the same id; should
 * the API ever reorder keys, the id changes and the event is sent again (a duplicate, never a loss).
 */
export function eventId(event: EventRecord): string {
  return hash('sha256', JSON.stringify(event), 'base64url').slice(0, 16);
}

/** The same 96 bits over a text as it came (a pushed NDJSON line). */
export function textHash(text: string): string {
  return hash('sha256', text, 'base64url').slice(0, 16);
}
