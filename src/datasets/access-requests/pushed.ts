/**
 * Logpush's `access_requests` dataset writes the fields in PascalCase and the time in the job's
 * `timestamp_format`. A pushed record becomes the event the API would have returned (snake_case,
 * RFC 3339 `created_at`), so it is written with exactly the same CEF, ECS and structured data as a
 * polled one. Fields this table does not know pass through under their own names.
 */
import { logpushTimestamp } from '../../format/logpush-time.js';
import type { EventRecord } from '../../format/record.js';
import { formatUtc } from '../../format/time.js';
import type { AccessEvent } from './event.js';

/** Logpush field → API field (docs: Logpush datasets, account, access_requests). */
export const PUSHED_FIELDS: Readonly<Record<string, string>> = {
  Action: 'action',
  Allowed: 'allowed',
  AppDomain: 'app_domain',
  AppUUID: 'app_uid',
  Connection: 'connection',
  Country: 'country',
  CreatedAt: 'created_at',
  Email: 'user_email',
  IPAddress: 'ip_address',
  PurposeJustificationPrompt: 'purpose_justification_prompt',
  PurposeJustificationResponse: 'purpose_justification_response',
  RayID: 'ray_id',
  TemporaryAccessApprovers: 'temporary_access_approvers',
  TemporaryAccessDuration: 'temporary_access_duration',
  UserUID: 'user_id',
};

/**
 * The API-shaped event of a pushed record. `created_at` keeps the precision the job wrote
 * (seconds for `unix`/`rfc3339`, nanoseconds for `unixnano`/`rfc3339ns`); an unreadable time is
 * kept as it came (the event is then dead-lettered for its time like a polled one).
 */
export function fromPushedAccessRequest(record: EventRecord): AccessEvent {
  const event: AccessEvent = {};
  for (const [field, value] of Object.entries(record)) {
    const name = PUSHED_FIELDS[field] ?? field;
    if (name === 'created_at') {
      const ts = logpushTimestamp(value);
      event.created_at = ts ? formatUtc(ts, ts.fractionDigits) : value;
    } else event[name] = value;
  }
  return event;
}
