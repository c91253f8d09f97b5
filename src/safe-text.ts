/**
 * Text that did not come from our own code (peer error bodies, Cloudflare messages, URLs from the
 * configuration) made safe to print: credentials in URLs masked, control characters escaped so a
 * newline cannot forge a log line and an escape sequence cannot reach a terminal, and peer bodies
 * cut to an excerpt.
 */

/** `scheme://user:password@host` → `scheme://***@host` (any userinfo: a token may be the user). */
export function maskUrlCredentials(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi, '$1***@');
}

// C0 (including CR, LF, TAB), DEL and C1.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** CR, LF and TAB as `\r`, `\n`, `\t`; every other control character as `\xNN`. */
export function escapeControls(text: string): string {
  CONTROL.lastIndex = 0;
  if (!CONTROL.test(text)) return text;
  return text.replace(CONTROL, (ch) => {
    if (ch === '\n') return '\\n';
    if (ch === '\r') return '\\r';
    if (ch === '\t') return '\\t';
    return `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** Masked, escaped and at most `max` characters (an excerpt of a peer's body or message). */
export function safeText(text: string, max = 1000): string {
  const clean = escapeControls(maskUrlCredentials(text));
  return clean.length <= max ? clean : `${clean.slice(0, max)}… (${clean.length - max} more characters)`;
}
