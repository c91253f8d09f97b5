/** Errors from the Cloudflare Access logs API, each with a stable code and a way out. */
import { ShipperError } from '../errors.js';

export const REQUIRED_PERMISSION = 'Account → "Access: Audit Logs Read"';

export interface ApiErrorDetail {
  code: number;
  message: string;
}

export function describeApiErrors(errors: readonly ApiErrorDetail[]): string {
  return errors.length === 0 ? 'no error details' : errors.map((e) => `code ${e.code}: ${e.message}`).join('; ');
}

/** 401/403 and the auth error codes: retrying cannot help, so the account stops. */
export class CloudflareAuthError extends ShipperError {
  constructor(accountLabel: string, status: number, errors: readonly ApiErrorDetail[]) {
    super(
      'ERR_CF_AUTH',
      `Cloudflare refused access to the Access logs of account ${accountLabel} (HTTP ${status}, ${describeApiErrors(errors)}). ` +
        `The API token needs the permission ${REQUIRED_PERMISSION} on this account (or auth_email/auth_key of a member with it); ` +
        `check cloudflare.api_token and the account id. This account is skipped until the configuration is fixed.`,
    );
  }
}

/** A request Cloudflare rejects as such (400, 404 …): retrying the same request cannot help. */
export class CloudflareRequestError extends ShipperError {
  constructor(accountLabel: string, status: number, errors: readonly ApiErrorDetail[]) {
    const hint =
      status === 404 || errors.some((e) => e.code === 7003) ? ' Check the account id and cloudflare.base_url.' : '';
    super(
      'ERR_CF_REQUEST',
      `Cloudflare rejected the Access logs request for account ${accountLabel} (HTTP ${status}, ${describeApiErrors(errors)}).${hint}`,
    );
  }
}

/** Retries exhausted on 5xx, timeouts, connection errors or malformed pages. */
export class CloudflareUnavailableError extends ShipperError {
  constructor(accountLabel: string, attempts: number, lastProblem: string, options: { cause?: unknown } = {}) {
    super(
      'ERR_CF_UNAVAILABLE',
      `Cloudflare Access logs API unusable for account ${accountLabel} after ${attempts} attempt(s): ${lastProblem}. Nothing past the last delivered batch was committed; the next poll retries.`,
      options,
    );
  }
}

/**
 * HTTP 400 code 12091 for a size parameter: Access endpoints take only a few page sizes. The pager
 * retries with those; when the configured size itself is refused, the message names the key.
 */
export class CloudflareParameterError extends ShipperError {
  constructor(
    accountLabel: string,
    readonly sizes: { per_page: number; limit: number },
    errors: readonly ApiErrorDetail[],
  ) {
    super(
      'ERR_CF_PAGE_SIZE',
      `Cloudflare refused the page size of the Access logs request for account ${accountLabel} (per_page=${sizes.per_page}, limit=${sizes.limit}: ${describeApiErrors(errors)}). ` +
        `Set cloudflare.page_size to one of 1, 5, 10, 20, 25, 50, 100, 1000 (default 1000).`,
    );
  }
}

/** The HTTP proxy refused the credentials (407), or wants some: retrying cannot help. */
export class CloudflareProxyError extends ShipperError {
  constructor(accountLabel: string, detail: string, options: { cause?: unknown } = {}) {
    super(
      'ERR_CF_PROXY',
      `Cloudflare Access logs request for account ${accountLabel} failed at the HTTP proxy: ${detail}`,
      options,
    );
  }
}
