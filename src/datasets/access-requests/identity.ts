/**
 * The identity a polled and a pushed Access event agree on. The API's rows carry fields Logpush's
 * `access_requests` does not (`app_name`, `app_type`), and `created_at` comes with the precision of
 * each source (microseconds from the API; seconds to nanoseconds from Logpush, by the job's
 * `timestamp_format`), so the full content hash of one never equals the other's. This one hashes
 * the fields both carry, with `created_at` to the whole second and `country` in lower case.
 *
 * Coarser than the content hash: two events of one account alike in every shared field within one
 * second (the same ray, user, app, action, result, IP …) count as one. That is the price of
 * matching the two arrivals, and it is paid only where both run for one account (see push/arrivals.ts).
 */
import { textHash } from '../../format/identity.js';
import type { EventRecord } from '../../format/record.js';
import { parseTimestamp } from '../../format/time.js';
import { PUSHED_FIELDS } from './pushed.js';

/** The API names of the fields both arrivals carry, sorted. */
const SHARED_FIELDS = Object.values(PUSHED_FIELDS).sort();

export function sharedAccessIdentity(event: EventRecord): string {
  const parts: unknown[] = [];
  for (const field of SHARED_FIELDS) {
    let value = event[field];
    if (value === undefined || value === null) continue;
    if (field === 'created_at' && typeof value === 'string') {
      const ts = parseTimestamp(value);
      if (ts) value = Math.floor(ts.epochMs / 1000);
    } else if (field === 'country' && typeof value === 'string') value = value.toLowerCase();
    parts.push(field, value);
  }
  return textHash(JSON.stringify(parts));
}
