/**
 * Splunk .conf files as Splunk reads them (stanzas, `key = value`, `#` comments on their own line,
 * a trailing backslash continues a line), and the keys their .spec files allow for the files an
 * add-on ships — a key Splunk does not know is ignored silently, so a typo must fail here.
 */

export type ConfFile = Map<string, Map<string, string>>;

export class ConfError extends Error {}

export function parseConf(text: string, file = 'conf'): ConfFile {
  const stanzas: ConfFile = new Map();
  let stanza = new Map<string, string>();
  stanzas.set('default', stanza);
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] ?? '';
    const number = i + 1;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + '\n' + (lines[++i] ?? '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const head = /^\[(.*)\]$/.exec(trimmed);
    if (head) {
      const name = head[1] ?? '';
      if (stanzas.has(name) && name !== 'default') throw new ConfError(`${file}:${number}: stanza [${name}] twice`);
      stanza = stanzas.get(name) ?? new Map<string, string>();
      stanzas.set(name, stanza);
      continue;
    }
    const eq = trimmed.indexOf('=');
    if (eq <= 0) throw new ConfError(`${file}:${number}: not "key = value": ${trimmed}`);
    const key = trimmed.slice(0, eq).trim();
    if (stanza.has(key)) throw new ConfError(`${file}:${number}: ${key} set twice in one stanza`);
    stanza.set(key, trimmed.slice(eq + 1).trim());
  }
  if (stanzas.get('default')?.size === 0) stanzas.delete('default');
  return stanzas;
}

/** Keys of the .spec files that matter for a search-time add-on: exact names, and `PREFIX-<class>`. */
const SPEC: Record<string, { exact: readonly string[]; prefixes?: readonly string[]; anyKey?: RegExp }> = {
  'props.conf': {
    exact: [
      'SHOULD_LINEMERGE',
      'LINE_BREAKER',
      'TRUNCATE',
      'KV_MODE',
      'AUTO_KV_JSON',
      'TIME_PREFIX',
      'TIME_FORMAT',
      'MAX_TIMESTAMP_LOOKAHEAD',
      'TZ',
      'CHARSET',
      'NO_BINARY_CHECK',
      'ANNOTATE_PUNCT',
      'category',
      'description',
      'pulldown_type',
      'rename',
    ],
    prefixes: ['REPORT-', 'EXTRACT-', 'FIELDALIAS-', 'EVAL-', 'LOOKUP-', 'TRANSFORMS-', 'SEDCMD-'],
  },
  'transforms.conf': {
    exact: [
      'REGEX',
      'FORMAT',
      'MV_ADD',
      'DELIMS',
      'FIELDS',
      'SOURCE_KEY',
      'DEST_KEY',
      'CLEAN_KEYS',
      'KEEP_EMPTY_VALS',
      'CAN_OPTIMIZE',
      'REPEAT_MATCH',
      'WRITE_META',
      'LOOKAHEAD',
      'DEFAULT_VALUE',
    ],
  },
  'eventtypes.conf': { exact: ['search', 'description', 'priority', 'disabled', 'color'] },
  // [eventtype=<name>] <tag> = enabled | disabled
  'tags.conf': { exact: [], anyKey: /^[A-Za-z0-9_-]+$/ },
  'app.conf': {
    exact: [
      'is_configured',
      'state',
      'build',
      'allows_disable',
      'is_visible',
      'label',
      'show_in_nav',
      'author',
      'description',
      'version',
      'id',
      'check_for_updates',
    ],
    prefixes: ['reload.'],
  },
  'default.meta': { exact: ['access', 'export', 'owner', 'version', 'modtime'] },
};

/** Keys that are not in the file's spec, as "[stanza] key" lines (empty: none). */
export function unknownKeys(fileName: string, conf: ConfFile): string[] {
  const spec = SPEC[fileName];
  if (!spec) throw new ConfError(`no spec for ${fileName}`);
  const unknown: string[] = [];
  for (const [stanza, keys] of conf)
    for (const key of keys.keys()) {
      const known =
        spec.exact.includes(key) ||
        (spec.prefixes ?? []).some((p) => key.startsWith(p) && key.length > p.length) ||
        spec.anyKey?.test(key) === true;
      if (!known) unknown.push(`[${stanza}] ${key}`);
    }
  return unknown;
}

/** `a AS b c AS d` (FIELDALIAS): the pairs; throws on anything else. */
export function aliasPairs(value: string): [string, string][] {
  const words = value.trim().split(/\s+/);
  if (words.length % 3 !== 0) throw new ConfError(`FIELDALIAS: not "<field> AS <field>" pairs: ${value}`);
  const pairs: [string, string][] = [];
  for (let i = 0; i < words.length; i += 3) {
    if (words[i + 1] !== 'AS') throw new ConfError(`FIELDALIAS: expected AS after ${words[i]}: ${value}`);
    pairs.push([words[i] ?? '', words[i + 2] ?? '']);
  }
  return pairs;
}
