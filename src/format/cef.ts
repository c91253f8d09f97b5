/**
 * ArcSight Common Event Format, version 0: the shared primitives (escaping, limits, the header).
 * Each dataset maps its events to the extension (datasets/<name>/cef.ts).
 *
 * Escaping follows the ArcSight CEF standard: in the header `\` and `|` are escaped and line
 * breaks removed; in extension values `\` and `=` are escaped and CR/LF are written as `\r`/`\n`.
 * Other control characters (ESC, NUL, TAB, DEL, C1) become visible pictures (see pictureControls).
 * Extension keys are fixed here, so no input can create a new key.
 */
import { pictureControls, truncateUtf8 } from './text.js';

export interface CefOptions {
  /** The product version written into the header. */
  version: string;
  severity: { allowed: number; denied: number };
}

/** Maximum lengths from the CEF dictionary (applied to UTF-8 bytes, so always safe). */
export const CEF_LIMITS = {
  vendor: 63,
  product: 63,
  version: 31,
  classId: 1023,
  name: 512,
  act: 63,
  outcome: 63,
  suser: 1023,
  suid: 1023,
  dhost: 1023,
  request: 1023,
  externalId: 40,
  deviceExternalId: 255,
  cs: 4000,
  csLabel: 1023,
  flexString: 1023,
  c6a2Label: 1023,
} as const;

// eslint-disable-next-line no-control-regex
const HEADER_SPECIAL = /[\\|\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const VALUE_SPECIAL = /[\\=\u0000-\u001f\u007f-\u009f]/;

export function escapeCefHeader(value: string): string {
  if (!HEADER_SPECIAL.test(value)) return value;
  return pictureControls(value).replace(/[\\|\r\n]/g, (ch) => (ch === '\\' ? '\\\\' : ch === '|' ? '\\|' : ''));
}

export function escapeCefValue(value: string): string {
  if (!VALUE_SPECIAL.test(value)) return value; // the common case: nothing to escape
  return pictureControls(value).replace(/[\\=\r\n]/g, (ch) => {
    switch (ch) {
      case '\\':
        return '\\\\';
      case '=':
        return '\\=';
      case '\r':
        return '\\r';
      default:
        return '\\n';
    }
  });
}

export function headerField(value: string, max: number): string {
  // Remove line breaks first so the limit applies to what is written.
  return escapeCefHeader(truncateUtf8(value.replace(/[\r\n]/g, ''), max));
}

/** A value truncated to `max` UTF-8 bytes and escaped (unless the caller knows it is plain). */
export function cefValue(value: string, max: number, plain: boolean): string {
  const cut = value.length * 3 <= max ? value : truncateUtf8(value, max);
  return plain ? cut : escapeCefValue(cut);
}

/** `CEF:0|vendor|product|version|classId|name|severity|`, each header field escaped and cut to its limit. */
export function cefHeaderText(
  vendor: string,
  product: string,
  version: string,
  classId: string,
  name: string,
  severity: number,
): string {
  return `CEF:0|${headerField(vendor, CEF_LIMITS.vendor)}|${headerField(product, CEF_LIMITS.product)}|${headerField(version, CEF_LIMITS.version)}|${headerField(classId, CEF_LIMITS.classId)}|${headerField(name, CEF_LIMITS.name)}|${severity}|`;
}
