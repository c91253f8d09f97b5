/** Times on the command line: RFC 3339, "now", or a duration ago ("7d", "36h", "90m"). */
import { parseDuration } from '../config/duration.js';
import { UsageError } from '../errors.js';
import { canonicalFromMs, canonicalize } from '../format/time.js';

export function parseTimeArg(flag: string, text: string, nowMs: number): string {
  const trimmed = text.trim();
  if (trimmed === 'now') return canonicalFromMs(nowMs);
  const canonical = canonicalize(trimmed);
  if (canonical !== undefined) return canonical;
  const ago = parseDuration(trimmed.replace(/^-/, '').replace(/\s*ago$/, ''));
  if (ago !== undefined) return canonicalFromMs(nowMs - ago);
  throw new UsageError(
    `${flag} must be an RFC 3339 time (2024-05-01T00:00:00Z), "now", or a duration ago such as 7d or 36h; got "${text}"`,
  );
}
