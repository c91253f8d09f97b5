/**
 * Splunk's search-time pipeline for one event, as far as an add-on's props / transforms /
 * eventtypes / tags use it, in Splunk's documented order: REPORT (transforms, in class order),
 * KV_MODE = json, FIELDALIAS, EVAL (all computed from the same fields, side by side), event types,
 * tags. Field values are lists (multivalue); JSON arrays become `name{}` as Splunk names them.
 */
import { aliasPairs, type ConfFile } from './splunk-conf.js';
import { evaluate } from './splunk-eval.js';

export interface AddOn {
  props: ConfFile;
  transforms: ConfFile;
  eventtypes: ConfFile;
  tags: ConfFile;
}

export type Fields = Map<string, string[]>;

function classes(stanza: ReadonlyMap<string, string>, prefix: string): [string, string][] {
  return [...stanza].filter(([key]) => key.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function add(fields: Fields, name: string, value: string, multivalue: boolean): void {
  const values = fields.get(name);
  if (values === undefined || !multivalue) fields.set(name, [value]);
  else values.push(value);
}

function report(addOn: AddOn, name: string, raw: string, fields: Fields): void {
  const transform = addOn.transforms.get(name);
  const pattern = transform?.get('REGEX');
  if (transform === undefined || pattern === undefined) throw new Error(`REPORT: no transform ${name} with a REGEX`);
  const format = transform.get('FORMAT');
  const mv = transform.get('MV_ADD') === 'true';
  if (format === undefined) {
    // An unmatched optional group is undefined at run time, whatever lib.d.ts says.
    const groups: Record<string, string | undefined> = new RegExp(pattern).exec(raw)?.groups ?? {};
    for (const [key, value] of Object.entries(groups)) if (value !== undefined) add(fields, key, value, mv);
    return;
  }
  if (format !== '$1::$2') throw new Error(`REPORT ${name}: FORMAT ${format} is not supported here`);
  for (const m of raw.matchAll(new RegExp(pattern, 'g')))
    if (m[1] !== undefined && m[2] !== undefined) add(fields, m[1], m[2], mv);
}

/** KV_MODE = json: nested keys joined with `.`, arrays as `key{}` (values of the same field). */
function jsonFields(raw: string, fields: Fields): void {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    return;
  }
  const walk = (prefix: string, value: unknown): void => {
    if (value === null || value === undefined) return;
    if (Array.isArray(value)) for (const item of value) walk(`${prefix}{}`, item);
    else if (typeof value === 'object')
      for (const [key, child] of Object.entries(value)) walk(prefix === '' ? key : `${prefix}.${key}`, child);
    else add(fields, prefix, typeof value === 'string' ? value : JSON.stringify(value), true);
  };
  walk('', doc);
}

/** The fields of one event of `sourcetype` after Splunk's search-time operations. */
export function searchTimeFields(addOn: AddOn, sourcetype: string, raw: string): Fields {
  const fields: Fields = new Map([
    ['_raw', [raw]],
    ['sourcetype', [sourcetype]],
  ]);
  const props = addOn.props.get(sourcetype);
  if (props === undefined) return fields;
  for (const [, value] of classes(props, 'REPORT-'))
    for (const name of value.split(',').map((s) => s.trim())) report(addOn, name, raw, fields);
  if (props.get('KV_MODE') === 'json') jsonFields(raw, fields);
  for (const [, value] of classes(props, 'FIELDALIAS-')) {
    const before = new Map(fields);
    for (const [from, to] of aliasPairs(value)) {
      const values = before.get(from);
      if (values !== undefined) fields.set(to, [...values]);
    }
  }
  const snapshot = new Map(fields);
  const computed = classes(props, 'EVAL-').map(([key, expression]) => {
    const value = evaluate(expression, snapshot);
    if (value === true || value === false) throw new Error(`${key}: a boolean is no field value`);
    return [key.slice('EVAL-'.length), value] as const;
  });
  for (const [name, value] of computed) {
    if (value === null) fields.delete(name);
    else fields.set(name, [String(value)]);
  }
  const eventtypes = [...addOn.eventtypes]
    .filter(([, stanza]) => stanza.get('disabled') !== '1' && matches(stanza.get('search') ?? '', fields))
    .map(([name]) => name);
  if (eventtypes.length > 0) fields.set('eventtype', eventtypes);
  const tags = new Set<string>();
  for (const [stanza, keys] of addOn.tags) {
    const [field, value] = stanza.split('=', 2);
    if (field === undefined || value === undefined) continue;
    if (!(fields.get(field) ?? []).includes(value)) continue;
    for (const [tag, state] of keys) if (state === 'enabled') tags.add(tag);
  }
  if (tags.size > 0) fields.set('tag', [...tags]);
  return fields;
}

/**
 * Whether an event type's search matches: `field=value` (quoted or bare, `*` wildcards, values
 * case-insensitive), `field!=value` (the field exists and differs), NOT, OR, AND (also implicit),
 * parentheses; a bare word is looked for in _raw.
 */
export function matches(search: string, fields: Fields): boolean {
  const tokens =
    search.match(/\(|\)|[^\s()"=!]+(?:!=|=)(?:"(?:[^"\\]|\\.)*"|[^\s()]*)|"(?:[^"\\]|\\.)*"|[^\s()]+/g) ?? [];
  let at = 0;
  const word = (w: string): boolean => tokens[at]?.toUpperCase() === w;
  const glob = (pattern: string): RegExp =>
    new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i');
  const unquote = (v: string): string => (v.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v);
  const or = (): boolean => {
    let left = and();
    while (word('OR')) {
      at++;
      const right = and();
      left = left || right;
    }
    return left;
  };
  const and = (): boolean => {
    let left = not();
    while (at < tokens.length && tokens[at] !== ')' && !word('OR')) {
      if (word('AND')) at++;
      const right = not();
      left = left && right;
    }
    return left;
  };
  const not = (): boolean => {
    if (word('NOT')) {
      at++;
      return !not();
    }
    return term();
  };
  const term = (): boolean => {
    const token = tokens[at++];
    if (token === undefined) throw new Error(`search: unexpected end of ${search}`);
    if (token === '(') {
      const value = or();
      if (tokens[at++] !== ')') throw new Error(`search: missing ) in ${search}`);
      return value;
    }
    const m = /^([^\s()"=!]+)(!=|=)(.*)$/s.exec(token);
    if (!m) return (fields.get('_raw')?.[0] ?? '').toLowerCase().includes(unquote(token).toLowerCase());
    const values = fields.get(m[1] ?? '') ?? [];
    const pattern = glob(unquote(m[3] ?? ''));
    return m[2] === '='
      ? values.some((v) => pattern.test(v))
      : values.length > 0 && !values.some((v) => pattern.test(v));
  };
  const result = or();
  if (at !== tokens.length) throw new Error(`search: unexpected ${tokens[at]} in ${search}`);
  return result;
}
