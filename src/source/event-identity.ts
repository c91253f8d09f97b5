/**
 * The identity of an event is a hash of its whole canonical content: `ray_id` repeats across
 * rows of one request, so it cannot be the key. Canonical = keys sorted at every depth.
 */
import { createHash } from 'node:crypto';
import type { AccessEvent } from '../format/event.js';

function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** 96 bits of SHA-256, base64url: 16 characters, collisions negligible at any realistic volume. */
export function eventHash(event: AccessEvent): string {
  return createHash('sha256').update(canonicalJson(event)).digest('base64url').slice(0, 16);
}
