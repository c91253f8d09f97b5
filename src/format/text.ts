/** Small text helpers shared by the formatters. */

/**
 * Truncates `text` so that its UTF-8 encoding fits in `maxBytes`, cutting only between code
 * points (a surrogate pair is never split). Returns the input itself when it already fits.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  // Fast paths: every UTF-16 unit is at most 3 UTF-8 bytes; ASCII is one byte each.
  if (text.length * 3 <= maxBytes) return text;
  if (text.length <= maxBytes && isAscii(text)) return text;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    let size: number;
    let width = 1;
    if (unit < 0x80) size = 1;
    else if (unit < 0x800) size = 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        size = 4;
        width = 2;
      } else size = 3;
    } else size = 3;
    if (bytes + size > maxBytes) return text.slice(0, i);
    bytes += size;
    i += width - 1;
  }
  return text;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** Byte length of a string in UTF-8. */
export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function isPrintableAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 33 || code > 126) return false;
  }
  return true;
}

/**
 * Keeps only printable US-ASCII (33–126), as RFC 5424 requires of HOSTNAME, APP-NAME, PROCID
 * and MSGID, then limits the length. An empty result becomes the NILVALUE "-".
 */
export function printableAscii(text: string | undefined, maxLength: number): string {
  if (text === undefined) return '-';
  if (text.length > 0 && text.length <= maxLength && isPrintableAscii(text)) return text; // the usual case
  let out = '';
  for (let i = 0; i < text.length && out.length < maxLength; i++) {
    const code = text.charCodeAt(i);
    if (code >= 33 && code <= 126) out += String.fromCharCode(code);
  }
  return out === '' ? '-' : out;
}

/**
 * `text` as a plain sequential string. V8 turns a string used as an object key into a "thin"
 * reference to its internalized copy, and concatenating a thin string makes the result
 * two-byte: twice the memory and slower to encode. Seen with the account id, which is a key in
 * the state: every CEF line of a poll came out two-byte. A copy through JSON is a plain string.
 */
export function plainString(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

// C0 other than CR and LF (each format has its own rule for those), DEL, and C1.
// eslint-disable-next-line no-control-regex
const OTHER_CONTROLS = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

/**
 * Control characters other than CR/LF as visible characters, for the text formats (CEF, syslog):
 * C0 as its Unicode control picture (ESC → ␛, TAB → ␉), DEL as ␡, C1 as U+FFFD. A SIEM then never
 * receives a raw escape sequence or NUL from an event field.
 */
export function pictureControls(value: string): string {
  OTHER_CONTROLS.lastIndex = 0;
  if (!OTHER_CONTROLS.test(value)) return value;
  return value.replace(OTHER_CONTROLS, (ch) => {
    const code = ch.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    return code === 0x7f ? '\u2421' : '\ufffd';
  });
}
