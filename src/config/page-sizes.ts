/** Page sizes Access endpoints are known to accept (others have been refused with HTTP 400 code 12091). */
export const ACCEPTED_PAGE_SIZES = [1, 5, 10, 20, 25, 50, 100, 1000] as const;
