/**
 * How a server might page the Access logs: one function per plausible reading of the undocumented
 * `page` / `per_page` / `limit` parameters. Pure, so the pager's property test and the HTTP
 * simulator share one definition of each reading.
 *
 * - honours:        per_page (else limit, else 25) is the page size; page p starts at (p−1)·size.
 * - capped:         as honours, but at most `cap` rows per response, silently; the offset counts
 *                   the size asked (`offset_by: asked`) or the rows the server really pages by
 *                   (`offset_by: served`).
 * - limit-total:    per_page is the page size and limit (default 25) caps the whole result across
 *                   pages.
 * - limit-only:     page and per_page are ignored; limit (default 25, at most `max_limit`) rows from
 *                   the start: the API before 2025.
 * - accepted-sizes: as honours, but a per_page or limit outside 1, 5, 10, 20, 25, 50, 100, 1000 is
 *                   refused with HTTP 400 code 12091.
 */
export type PagingBehaviour =
  | { mode: 'honours' }
  | { mode: 'capped'; cap: number; offsetBy: 'asked' | 'served' }
  | { mode: 'limit-total' }
  | { mode: 'limit-only'; maxLimit?: number }
  | { mode: 'accepted-sizes' };

export interface PagingParams {
  page?: number | undefined;
  perPage?: number | undefined;
  limit?: number | undefined;
}

export type PageSlice = { from: number; to: number } | { refused: { code: number; message: string } };

const ACCEPTED = new Set([1, 5, 10, 20, 25, 50, 100, 1000]);
const DEFAULT_SIZE = 25;

/** Positions `[from, to)` of the page within a window of `length` rows, in the requested order. */
export function pageSlice(length: number, params: PagingParams, behaviour: PagingBehaviour): PageSlice {
  const page = Math.max(1, params.page ?? 1);
  const slice = (from: number, count: number): PageSlice => ({
    from: Math.min(from, length),
    to: Math.min(length, from + Math.max(0, count)),
  });
  switch (behaviour.mode) {
    case 'honours': {
      const size = params.perPage ?? params.limit ?? DEFAULT_SIZE;
      return slice((page - 1) * size, size);
    }
    case 'capped': {
      const size = params.perPage ?? params.limit ?? DEFAULT_SIZE;
      const served = Math.min(size, behaviour.cap);
      return slice((page - 1) * (behaviour.offsetBy === 'asked' ? size : served), served);
    }
    case 'limit-total': {
      const size = params.perPage ?? DEFAULT_SIZE;
      const cap = params.limit ?? DEFAULT_SIZE;
      const from = (page - 1) * size;
      return slice(from, Math.min(size, cap - from));
    }
    case 'limit-only':
      return slice(0, Math.min(params.limit ?? DEFAULT_SIZE, behaviour.maxLimit ?? 1000));
    case 'accepted-sizes': {
      for (const [name, value] of [
        ['per_page', params.perPage],
        ['limit', params.limit],
      ] as const) {
        if (value !== undefined && !ACCEPTED.has(value))
          return { refused: { code: 12091, message: `access.api.error.invalid_url_parameter_value: ${name}` } };
      }
      const size = params.perPage ?? params.limit ?? DEFAULT_SIZE;
      return slice((page - 1) * size, size);
    }
  }
}

export function describeBehaviour(behaviour: PagingBehaviour): string {
  switch (behaviour.mode) {
    case 'capped':
      return `capped at ${behaviour.cap} rows per response (offset by the size ${behaviour.offsetBy})`;
    case 'limit-only':
      return `limit only (page and per_page ignored, limit at most ${behaviour.maxLimit ?? 1000})`;
    default:
      return behaviour.mode;
  }
}
