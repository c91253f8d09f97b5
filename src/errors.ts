/**
 * Error classes with a stable `code` (for logs, tests and the README's troubleshooting table)
 * and an `exitCode` the CLI uses. Messages say what happened and what to do; they never
 * contain secrets.
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_CONFIG = 78; // EX_CONFIG from sysexits.h; systemd's RestartPreventExitStatus uses it

export class ShipperError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
  }
}

/** An invalid or unreadable configuration: exit 78 so systemd does not restart in a loop. */
export class ConfigError extends ShipperError {
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(options.code ?? 'ERR_CONFIG', message, { cause: options.cause, exitCode: EXIT_CONFIG });
  }
}

/** Wrong command-line usage (bad flag value, missing argument). */
export class UsageError extends ShipperError {
  constructor(message: string) {
    super('ERR_USAGE', message, { exitCode: EXIT_USAGE });
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
