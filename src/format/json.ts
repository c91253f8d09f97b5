/** Plain JSON: the event as received, plus `account_id` when known. One line. */
import type { EventContext, EventRecord } from './record.js';

export function jsonRecord(event: EventRecord, context: EventContext = {}): EventRecord {
  if (context.accountId === undefined || event.account_id !== undefined) return event;
  return { ...event, account_id: context.accountId };
}

export function formatJson(event: EventRecord, context: EventContext = {}): string {
  // JSON.stringify never emits raw CR/LF (they are escaped in strings), so this is one line.
  return JSON.stringify(jsonRecord(event, context));
}
