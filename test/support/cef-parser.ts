/**
 * A strict CEF parser written from the ArcSight CEF standard, used to judge our formatter:
 * - the header is 7 `|`-separated fields after "CEF:"; in them only `\\` and `\|` are escapes;
 * - extension pairs are `key=value` separated by spaces; a key is [A-Za-z0-9_]+ and starts
 *   after a space (or at the start); a value runs up to the space before the next key;
 * - in values only `\\`, `\=`, `\n` and `\r` are escapes; an unescaped `=` inside a value, any
 *   other escape or a raw CR/LF is an error (lenient parsers accept these and hide bugs).
 */
export interface ParsedCef {
  version: string;
  header: string[]; // vendor, product, version, class id, name, severity
  extension: [string, string][];
}

export class CefParseError extends Error {}

export function parseCef(line: string): ParsedCef {
  if (/[\r\n]/.test(line)) throw new CefParseError('raw line break in a CEF record');
  if (!line.startsWith('CEF:')) throw new CefParseError('missing "CEF:" prefix');
  const fields: string[] = [];
  let current = '';
  let i = 4;
  for (; i < line.length && fields.length < 7; i++) {
    const ch = line[i]!;
    if (ch === '\\') {
      const next = line[i + 1];
      if (next === '\\' || next === '|') {
        current += next;
        i++;
        continue;
      }
      throw new CefParseError(`invalid header escape "\\${next ?? ''}" at ${i}`);
    }
    if (ch === '|') {
      fields.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  if (fields.length !== 7) throw new CefParseError(`expected 7 header fields, found ${fields.length}`);
  const [version, ...header] = fields;
  return { version: version!, header, extension: parseExtension(line.slice(i)) };
}

/** Positions of unescaped `=` (escapes are skipped pairwise, so `\\=` is `\` + separator). */
function separators(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') {
      i++;
      continue;
    }
    if (text[i] === '=') out.push(i);
  }
  return out;
}

export function parseExtension(text: string): [string, string][] {
  if (text === '') return [];
  const eqs = separators(text);
  const pairs: [string, string][] = [];
  // Each separator's key is the run of key characters right before it, preceded by a space or the start.
  const keyStarts = eqs.map((eq) => {
    let start = eq;
    while (start > 0 && /[A-Za-z0-9_]/.test(text[start - 1]!)) start--;
    if (start === eq) throw new CefParseError(`empty key before "=" at ${eq}`);
    if (start > 0 && text[start - 1] !== ' ') throw new CefParseError(`unescaped "=" inside a value at ${eq}`);
    return start;
  });
  if (keyStarts[0] !== 0) throw new CefParseError('extension does not start with a key');
  for (let k = 0; k < eqs.length; k++) {
    const key = text.slice(keyStarts[k], eqs[k]);
    const end = k + 1 < eqs.length ? keyStarts[k + 1]! - 1 : text.length;
    pairs.push([key, unescapeValue(text.slice(eqs[k]! + 1, end))]);
  }
  return pairs;
}

function unescapeValue(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = raw[++i];
    if (next === '\\' || next === '=') out += next;
    else if (next === 'n') out += '\n';
    else if (next === 'r') out += '\r';
    else throw new CefParseError(`invalid value escape "\\${next ?? ''}"`);
  }
  return out;
}
