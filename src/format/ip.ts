import { isIPv6 } from 'node:net';

/** A dotted-quad IPv4 check without a regex (the CEF hot path); same answers as net.isIPv4. */
export function isIPv4Fast(text: string): boolean {
  const len = text.length;
  if (len < 7 || len > 15) return false;
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= len; i++) {
    const c = i === len ? 46 : text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || value > 255) return false;
      parts++;
      value = 0;
      digits = 0;
      continue;
    }
    if (c < 48 || c > 57) return false;
    // No leading zeros ("01"), as net.isIPv4 rejects them.
    if (digits === 1 && value === 0) return false;
    value = value * 10 + (c - 48);
    digits++;
  }
  return parts === 4;
}

/**
 * net.isIPv6 without its large regex for the usual forms: hex groups with at most one "::".
 * Anything else (an embedded IPv4 address, a zone id, any other character) is decided by
 * net.isIPv6 itself, so the answer is always net.isIPv6's.
 */
export function isIPv6Fast(text: string): boolean {
  const len = text.length;
  if (len < 2 || len > 39) return isIPv6(text);
  let groups = 0;
  let digits = 0;
  let compressed = false;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === 58) {
      if (i + 1 < len && text.charCodeAt(i + 1) === 58) {
        // "::" stands for one or more zero groups; only one is allowed.
        if (compressed) return false;
        compressed = true;
        if (digits > 0) groups++;
        digits = 0;
        i++;
        continue;
      }
      // A single ":" ends a group and must be followed by another.
      if (digits === 0 || i + 1 === len) return false;
      groups++;
      digits = 0;
      continue;
    }
    const hex = (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
    if (!hex) return isIPv6(text);
    if (++digits > 4) return false;
  }
  if (digits > 0) groups++;
  return compressed ? groups <= 7 : groups === 8;
}

/** net.isIP(text) !== 0, through the fast checks above. */
export function isIPFast(text: string): boolean {
  return isIPv4Fast(text) || isIPv6Fast(text);
}
