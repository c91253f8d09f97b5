/** Facility and severity names or numbers, turned into their codes. */
import { z } from 'zod';
import { FACILITIES, SEVERITIES, syslogCode } from '../format/syslog.js';

function codeOf(table: Readonly<Record<string, number>>, max: number, what: string) {
  const names = Object.keys(table).join(', ');
  const message = `must be a syslog ${what} name (${names}) or a number from 0 to ${max}`;
  return z.union([z.string(), z.number()], { error: message }).transform((value, ctx) => {
    const code = syslogCode(table, max, value);
    if (code === undefined) {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return code;
  });
}

export const facilityCode = codeOf(FACILITIES, 23, 'facility');
export const severityCode = codeOf(SEVERITIES, 7, 'severity');
