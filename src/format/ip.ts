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
