/** Turns the `format` section and an output's syslog header keys into formatter options. */
import { hostname as osHostname } from 'node:os';
import type { FormatterOptions } from '../format/index.js';
import { VERSION } from '../version.js';
import type { FormatConfig } from './schema.js';

export interface SyslogHeaderConfig {
  facility?: number | undefined;
  app_name?: string | undefined;
  hostname?: string | undefined;
  structured_data?: boolean | undefined;
}

export const DEFAULT_FACILITY = 16; // local0

/** The `format` section's defaults (what the schema fills in), for `convert` without a config. */
export const DEFAULT_FORMAT_CONFIG: FormatConfig = {
  cef: { severity: { allowed: 3, denied: 6 } },
  syslog: { severity: { allowed: 6, denied: 4 } },
  ecs: { include_original: false },
};
export const DEFAULT_APP_NAME = 'cf-access';

export function formatterOptions(format: FormatConfig, header: SyslogHeaderConfig = {}): FormatterOptions {
  return {
    cef: { version: VERSION, severity: { ...format.cef.severity } },
    ecs: { includeOriginal: format.ecs.include_original },
    syslog: {
      facility: header.facility ?? DEFAULT_FACILITY,
      severity: { ...format.syslog.severity },
      appName: header.app_name ?? DEFAULT_APP_NAME,
      hostname: header.hostname ?? osHostname(),
      procId: String(process.pid),
      structuredData: header.structured_data ?? false,
    },
  };
}
