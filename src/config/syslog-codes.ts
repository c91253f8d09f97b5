/** Facility and severity names or numbers, turned into their codes. */
import { z } from 'zod';
import { FACILITIES, SEVERITIES } from '../format/syslog.js';

function codeOf(table: Readonly<Record<string, number>>, max: number, what: string) {
  const names = Object.keys(table).join(', ');
  const message = `must be a syslog ${what} name (${names}) or a number from 0 to ${max}`;
  return z.union([z.string(), z.number()], { error: message }).transform((value, ctx) => {
    const text = String(value).trim().toLowerCase();
    const code = /^\d+$/.test(text) ? Number(text) : table[text];
    if (code === undefined || code > max) {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return code;
  });
}

export const facilityCode = codeOf(FACILITIES, 23, 'facility');
export const severityCode = codeOf(SEVERITIES, 7, 'severity');

/** Parses a facility for CLI flags; undefined when invalid. */
export function parseFacility(value: string): number | undefined {
  const result = facilityCode.safeParse(value);
  return result.success ? result.data : undefined;
}
