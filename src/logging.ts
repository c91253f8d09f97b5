/**
 * What the lower layers log through. The daemon's logger (ops/logger.ts, winston with redaction)
 * is one; tests pass their own. `meta` carries fields such as `output` or `account`.
 */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  debug(message: string, meta?: Record<string, unknown>): unknown;
}
