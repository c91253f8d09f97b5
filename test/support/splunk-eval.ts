/**
 * The part of Splunk's eval language an add-on's calculated fields use (props.conf EVAL-):
 * string literals ("…" with \\ and \" escapes), 'quoted field names', numbers, bare field names,
 * `.` concatenation, + - * /, comparisons, AND / OR / NOT, and the functions if, case, coalesce,
 * null, true, false, len, lower, upper, replace, match, isnull, isnotnull, tonumber, tostring.
 * Splunk's rules kept: a missing field is null, null propagates through operators and functions,
 * numeric text compares and adds as a number, replace() and match() take PCRE (here: JS RegExp,
 * with `\1` back-references in the replacement).
 */

export type Value = string | number | boolean | null;
type Fields = ReadonlyMap<string, readonly string[]>;

type Token =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'field'; value: string }
  | { kind: 'name'; value: string }
  | { kind: 'op'; value: string };

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      let value = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && (text[i + 1] === '\\' || text[i + 1] === '"')) {
          value += text.charAt(i + 1);
          i += 2;
        } else value += text.charAt(i++);
      }
      if (text[i] !== '"') throw new Error(`eval: unterminated string in ${text}`);
      i++;
      tokens.push({ kind: 'string', value });
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error(`eval: unterminated field name in ${text}`);
      tokens.push({ kind: 'field', value: text.slice(i + 1, end) });
      i = end + 1;
    } else if (/[0-9]/.test(c)) {
      const m = /^\d+(\.\d+)?/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'number', value: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'name', value: m[0] });
      i += m[0].length;
    } else {
      const op = ['==', '!=', '<=', '>='].find((o) => text.startsWith(o, i)) ?? c;
      if (!['==', '!=', '<=', '>=', '<', '>', '=', '+', '-', '*', '/', '.', '(', ')', ','].includes(op))
        throw new Error(`eval: unexpected ${op} in ${text}`);
      tokens.push({ kind: 'op', value: op });
      i += op.length;
    }
  }
  return tokens;
}

const numeric = (v: Value): number | undefined => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return undefined;
};
const text = (v: Value): string | null => (v === null ? null : String(v));
const truthy = (v: Value): boolean => v === true;
const regex = (pattern: Value): RegExp => new RegExp(String(pattern));

/** Parses and evaluates `expression` over `fields` (first value of each). */
export function evaluate(expression: string, fields: Fields): Value {
  const tokens = tokenize(expression);
  let at = 0;
  const peek = (): Token | undefined => tokens[at];
  const isOp = (value: string): boolean => peek()?.kind === 'op' && peek()?.value === value;
  const isWord = (value: string): boolean => {
    const t = peek();
    return t?.kind === 'name' && t.value.toUpperCase() === value;
  };
  const expect = (value: string): void => {
    if (!isOp(value)) throw new Error(`eval: expected ${value} at token ${at} of ${expression}`);
    at++;
  };
  const field = (name: string): Value => fields.get(name)?.[0] ?? null;

  const or = (): Value => {
    let left = and();
    while (isWord('OR')) {
      at++;
      const right = and();
      left = truthy(left) || truthy(right);
    }
    return left;
  };
  const and = (): Value => {
    let left = not();
    while (isWord('AND')) {
      at++;
      const right = not();
      left = truthy(left) && truthy(right);
    }
    return left;
  };
  const not = (): Value => {
    if (isWord('NOT')) {
      at++;
      return !truthy(not());
    }
    return comparison();
  };
  const comparison = (): Value => {
    const left = additive();
    const op = peek();
    if (op?.kind !== 'op' || !['==', '=', '!=', '<', '>', '<=', '>='].includes(op.value)) return left;
    at++;
    const right = additive();
    if (left === null || right === null) return null;
    const a = numeric(left);
    const b = numeric(right);
    const [x, y] = a !== undefined && b !== undefined ? [a, b] : [String(left), String(right)];
    switch (op.value) {
      case '==':
      case '=':
        return x === y;
      case '!=':
        return x !== y;
      case '<':
        return x < y;
      case '>':
        return x > y;
      case '<=':
        return x <= y;
      default:
        return x >= y;
    }
  };
  const additive = (): Value => {
    let left = multiplicative();
    while (isOp('+') || isOp('-') || isOp('.')) {
      const op = (tokens[at++] as Token).value;
      const right = multiplicative();
      if (left === null || right === null) left = null;
      else if (op === '.') left = String(left) + String(right);
      else {
        const a = numeric(left);
        const b = numeric(right);
        if (a !== undefined && b !== undefined) left = op === '+' ? a + b : a - b;
        else left = op === '+' && typeof left === 'string' && typeof right === 'string' ? left + right : null;
      }
    }
    return left;
  };
  const multiplicative = (): Value => {
    let left = primary();
    while (isOp('*') || isOp('/')) {
      const op = (tokens[at++] as Token).value;
      const a = numeric(left);
      const b = numeric(primary());
      left = a === undefined || b === undefined ? null : op === '*' ? a * b : a / b;
    }
    return left;
  };
  const args = (): Value[] => {
    expect('(');
    const list: Value[] = [];
    if (!isOp(')'))
      for (;;) {
        list.push(or());
        if (!isOp(',')) break;
        at++;
      }
    expect(')');
    return list;
  };
  const primary = (): Value => {
    const token = tokens[at++];
    if (token === undefined) throw new Error(`eval: unexpected end of ${expression}`);
    if (token.kind === 'string' || token.kind === 'number') return token.value;
    if (token.kind === 'field') return field(token.value);
    if (token.kind === 'op' && token.value === '(') {
      const value = or();
      expect(')');
      return value;
    }
    if (token.kind === 'op' && token.value === '-') {
      const n = numeric(primary());
      return n === undefined ? null : -n;
    }
    if (token.kind === 'name') return isOp('(') ? call(token.value, args()) : field(token.value);
    throw new Error(`eval: unexpected ${token.value} in ${expression}`);
  };
  const value = or();
  if (at !== tokens.length) throw new Error(`eval: unexpected ${tokens[at]?.value} in ${expression}`);
  return value;
}

function call(name: string, a: Value[]): Value {
  const arity = (n: number): void => {
    if (a.length !== n) throw new Error(`eval: ${name}() takes ${n} argument(s), got ${a.length}`);
  };
  const [x = null, y = null, z = null] = a;
  switch (name) {
    case 'if':
      arity(3);
      return truthy(x) ? y : z;
    case 'case':
      for (let i = 0; i + 1 < a.length; i += 2) if (truthy(a[i] ?? null)) return a[i + 1] ?? null;
      return null;
    case 'coalesce':
      return a.find((v) => v !== null) ?? null;
    case 'null':
      arity(0);
      return null;
    case 'true':
      return true;
    case 'false':
      return false;
    case 'len':
      arity(1);
      return x === null ? null : String(x).length;
    case 'lower':
      arity(1);
      return text(x)?.toLowerCase() ?? null;
    case 'upper':
      arity(1);
      return text(x)?.toUpperCase() ?? null;
    case 'replace': {
      arity(3);
      if (x === null || y === null || z === null) return null;
      const replacement = String(z)
        .replace(/\$/g, '$$$$')
        .replace(/\\(\d)/g, '$$$1');
      return String(x).replace(new RegExp(String(y), 'g'), replacement);
    }
    case 'match':
      arity(2);
      return x === null || y === null ? null : regex(y).test(String(x));
    case 'isnull':
      arity(1);
      return x === null;
    case 'isnotnull':
      arity(1);
      return x !== null;
    case 'tonumber':
      arity(1);
      return x === null ? null : (numeric(x) ?? null);
    case 'tostring':
      arity(1);
      return text(x);
    default:
      throw new Error(`eval: function ${name}() is not known to this evaluator`);
  }
}
