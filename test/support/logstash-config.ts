/**
 * A parser for Logstash's pipeline configuration language (sections, plugins, `key => value`,
 * strings, numbers, barewords, arrays, hashes, plugin values such as `codec => cef { ... }`,
 * comments). Enough to prove the recipes in docs/siem are well formed and to read their settings.
 */
export type LsValue = string | number | boolean | LsValue[] | { [key: string]: LsValue } | LsPlugin;

export interface LsPlugin {
  plugin: string;
  settings: Record<string, LsValue>;
}

export type LsConfig = Record<string, LsPlugin[]>;

export function parseLogstash(text: string): LsConfig {
  let i = 0;
  const fail = (what: string): never => {
    const line = text.slice(0, i).split('\n').length;
    throw new Error(`logstash config: ${what} at line ${line}`);
  };
  const skip = (): void => {
    for (;;) {
      while (i < text.length && /\s/.test(text[i]!)) i++;
      if (text[i] === '#') while (i < text.length && text[i] !== '\n') i++;
      else return;
    }
  };
  const word = (): string => {
    skip();
    const m = /^[A-Za-z_@\][][A-Za-z0-9_@.\-[\]]*/.exec(text.slice(i));
    if (!m) fail('expected a name');
    i += m![0].length;
    return m![0];
  };
  const expect = (token: string): void => {
    skip();
    if (!text.startsWith(token, i)) fail(`expected "${token}"`);
    i += token.length;
  };
  const string = (): string => {
    const quote = text[i]!;
    i++;
    let out = '';
    while (text[i] !== quote) {
      if (i >= text.length) fail('unterminated string');
      if (text[i] === '\\') {
        out += `${text[i]!}${text[i + 1] ?? ''}`;
        i += 2;
        continue;
      }
      out += text.charAt(i);
      i++;
    }
    i++;
    return out;
  };
  const value = (): LsValue => {
    skip();
    const c = text[i];
    if (c === '"' || c === "'") return string();
    if (c === '[') {
      i++;
      const items: LsValue[] = [];
      skip();
      while (text[i] !== ']') {
        items.push(value());
        skip();
        if (text[i] === ',') i++;
        skip();
        if (i >= text.length) fail('unterminated array');
      }
      i++;
      return items;
    }
    if (c === '{') {
      i++;
      const hash: Record<string, LsValue> = {};
      skip();
      while (text[i] !== '}') {
        skip();
        const key = text[i] === '"' || text[i] === "'" ? string() : word();
        expect('=>');
        hash[key] = value();
        skip();
        if (i >= text.length) fail('unterminated hash');
      }
      i++;
      return hash;
    }
    const num = /^-?\d+(\.\d+)?(?![A-Za-z])/.exec(text.slice(i));
    if (num) {
      i += num[0].length;
      return Number(num[0]);
    }
    const name = word();
    skip();
    if (text[i] === '{') return plugin(name);
    if (name === 'true' || name === 'false') return name === 'true';
    return name;
  };
  const plugin = (name: string): LsPlugin => {
    expect('{');
    const settings: Record<string, LsValue> = {};
    for (;;) {
      skip();
      if (text[i] === '}') {
        i++;
        return { plugin: name, settings };
      }
      if (i >= text.length) fail(`unterminated plugin ${name}`);
      const key = word();
      expect('=>');
      settings[key] = value();
    }
  };
  const config: LsConfig = {};
  for (;;) {
    skip();
    if (i >= text.length) return config;
    const section = word();
    if (!['input', 'filter', 'output'].includes(section)) fail(`unknown section ${section}`);
    expect('{');
    const plugins: LsPlugin[] = [];
    for (;;) {
      skip();
      if (text[i] === '}') {
        i++;
        break;
      }
      if (i >= text.length) fail(`unterminated section ${section}`);
      plugins.push(plugin(word()));
    }
    config[section] = [...(config[section] ?? []), ...plugins];
  }
}

/** Logstash's dissect: literal delimiters between %{field} keys; the last field takes the rest. */
export function dissect(pattern: string, input: string): Record<string, string> | undefined {
  const parts = pattern.split(/(%\{[^}]*\})/).filter((p) => p !== '');
  const out: Record<string, string> = {};
  let pos = 0;
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k]!;
    const key = /^%\{([^}]*)\}$/.exec(part)?.[1];
    if (key === undefined) {
      if (!input.startsWith(part, pos)) return undefined;
      pos += part.length;
      continue;
    }
    const next = parts[k + 1];
    const end = next === undefined ? input.length : input.indexOf(next, pos);
    if (end === -1) return undefined;
    out[key] = input.slice(pos, end);
    pos = end;
  }
  return out;
}
