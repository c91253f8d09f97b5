/** Access authentication events in syslog: RFC 5424 structured data and the header's fields. */
import { type EventContext, fieldText } from '../../format/record.js';
import { escapeSdValue, type SyslogFields } from '../../format/syslog.js';
import { truncateUtf8 } from '../../format/text.js';
import { type AccessEvent, accessRequestFields, outcomeOf } from './event.js';

export const SD_ID = 'cfaccess@32473';

/** Event fields written as SD-PARAMs, in this order; names are fixed so input cannot add one. */
const SD_FIELDS = [
  'action',
  'allowed',
  'user_email',
  'user_id',
  'ip_address',
  'country',
  'app_domain',
  'app_name',
  'app_uid',
  'app_type',
  'connection',
  'ray_id',
  'created_at',
] as const;

export function structuredData(event: AccessEvent, context: EventContext): string {
  const params: string[] = [];
  for (const field of SD_FIELDS) {
    const value = fieldText(event, field);
    // 4000 bytes per value keeps a record well under 64 KiB even with every field long.
    if (value !== undefined) params.push(`${field}="${escapeSdValue(truncateUtf8(value, 4000))}"`);
  }
  // Set on few events and empty otherwise: written only when they carry something.
  const requested = accessRequestFields(event);
  if (requested) {
    const sd = (name: string, value: string | number | undefined): void => {
      if (value !== undefined) params.push(`${name}="${escapeSdValue(truncateUtf8(String(value), 4000))}"`);
    };
    sd('purpose_justification_prompt', requested.prompt);
    sd('purpose_justification_response', requested.response);
    sd('temporary_access_approvers', requested.approvers);
    sd('temporary_access_duration', requested.durationSeconds);
  }
  if (context.accountId !== undefined) params.push(`account_id="${escapeSdValue(context.accountId)}"`);
  return params.length === 0 ? '-' : `[${SD_ID} ${params.join(' ')}]`;
}

/** Where the syslog header finds its fields in an Access event. */
export const accessSyslogFields: SyslogFields<AccessEvent> = {
  time: (event) => fieldText(event, 'created_at'),
  outcome: outcomeOf,
  msgId: (event) => fieldText(event, 'action'),
  structuredData,
};
