/**
 * An event as a record of fields, whatever its dataset: what the shared layers (reading, cursor,
 * outputs, dead letters) handle. A dataset's own type (datasets/<name>/event.ts) narrows it.
 */
export interface EventRecord {
  [field: string]: unknown;
}

/** What an event says about the request: let through, refused, or neither (syslog severity, CEF outcome). */
export type Outcome = 'allowed' | 'denied' | 'unknown';

/** Context that is not part of the event itself. */
export interface EventContext {
  /** The Cloudflare account the event was read from, when known. */
  accountId?: string | undefined;
  /** created_at in epoch milliseconds, when the caller parsed it already (saves parsing it again). */
  epochMs?: number | undefined;
  /**
   * The caller knows that no string value holds a backslash, "=", CR or LF (its JSON text had no
   * backslash and no "="), so CEF values need no escaping.
   */
  plainValues?: boolean | undefined;
}

export function isEventRecord(value: unknown): value is EventRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The text of a field, or undefined when it is missing or null. Strings are returned as they
 * are; numbers and booleans are stringified; objects become compact JSON so nothing is lost.
 */
export function fieldText(event: EventRecord, field: string): string | undefined {
  return valueText(event[field]);
}

/** `fieldText` for a value already read (named property reads are faster on the hot path). */
export function valueText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}
