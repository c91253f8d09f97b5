/** A strict RFC 5424 parser (header + structured data) for judging our syslog formatter. */
export interface ParsedSyslog {
  pri: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: { id: string; params: [string, string][] }[];
  msg: string;
}

export function parseRfc5424(line: string): ParsedSyslog {
  const m = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(line);
  if (!m) throw new Error(`not an RFC 5424 header: ${line.slice(0, 80)}`);
  for (const [value, max] of [
    [m[4]!, 255],
    [m[5]!, 48],
    [m[6]!, 128],
    [m[7]!, 32],
  ] as const) {
    if (value.length > max || !/^[\x21-\x7e]+$/.test(value)) throw new Error(`invalid header field "${value}"`);
  }
  let i = m[0].length;
  const sd: ParsedSyslog['sd'] = [];
  if (line[i] === '-') i++;
  else {
    while (line[i] === '[') {
      i++;
      const idEnd = line.slice(i).search(/[ \]]/);
      const id = line.slice(i, i + idEnd);
      i += idEnd;
      const params: [string, string][] = [];
      while (line[i] === ' ') {
        i++;
        const eq = line.indexOf('=', i);
        const name = line.slice(i, eq);
        if (!/^[\x21-\x7e]{1,32}$/.test(name) || /[= \]"]/.test(name)) throw new Error(`bad PARAM-NAME ${name}`);
        if (line[eq + 1] !== '"') throw new Error('PARAM-VALUE must be quoted');
        i = eq + 2;
        let value = '';
        for (;;) {
          const ch = line[i];
          if (ch === undefined) throw new Error('unterminated PARAM-VALUE');
          if (ch === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\' || line[i + 1] === ']')) {
            value += line[i + 1]!;
            i += 2;
            continue;
          }
          if (ch === '"') break;
          if (ch === ']') throw new Error('unescaped "]" in PARAM-VALUE');
          value += ch;
          i++;
        }
        i++;
        params.push([name, value]);
      }
      if (line[i] !== ']') throw new Error(`expected "]" at ${i}`);
      i++;
      sd.push({ id, params });
    }
  }
  if (line[i] !== ' ' && i !== line.length) throw new Error(`expected space after SD at ${i}`);
  return {
    pri: Number(m[1]),
    version: Number(m[2]),
    timestamp: m[3]!,
    hostname: m[4]!,
    appName: m[5]!,
    procId: m[6]!,
    msgId: m[7]!,
    sd,
    msg: line.slice(i + 1),
  };
}
