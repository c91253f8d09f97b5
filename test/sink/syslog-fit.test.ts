import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatCef } from '../../src/datasets/access-requests/cef.js';
import { fitCef, fitJson, fitRecord, FramedBuffer } from '../../src/sink/syslog-fit.js';
import { parseCef } from '../support/cef-parser.js';
import { ALLOWED_LOGIN } from '../support/sample-events.js';

const options = { version: '1', severity: { allowed: 3, denied: 6 } };

/** RFC 6587 written plainly, the reference for FramedBuffer: octet counting (`LEN SP MSG`) or a trailing LF. */
function frame(text: string, framing: 'octet-counting' | 'lf'): string {
  return framing === 'lf' ? `${text}\n` : `${Buffer.byteLength(text)} ${text}`;
}

function framed(text: string, framing: 'octet-counting' | 'lf'): string {
  const buffer = new FramedBuffer(framing);
  buffer.add(text, '');
  return buffer.take().toString('utf8');
}

describe('sink/syslog-fit', () => {
  it('frames with octet counting (bytes, not characters) or LF', () => {
    assert.equal(framed('héllo', 'octet-counting'), '6 héllo');
    assert.equal(framed('x', 'lf'), 'x\n');
  });

  it('FramedBuffer writes the same bytes as frame() for any records, growing as needed (property)', () => {
    const part = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.constant('x'.repeat(9995)),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(part, part), { maxLength: 30 }),
        fc.constantFrom('octet-counting' as const, 'lf' as const),
        (records, framing) => {
          const framed = new FramedBuffer(framing, 16);
          for (const [header, msg] of records) framed.add(header, msg);
          assert.equal(framed.count, records.length);
          const expected = Buffer.from(records.map(([header, msg]) => frame(header + msg, framing)).join(''), 'utf8');
          assert.ok(framed.take().equals(expected));
          assert.equal(framed.bytes, 0, 'starts over after take()');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('cuts CEF between extension pairs: the result still parses and keeps whole values (property)', () => {
    const text = fc.string({
      unit: fc.oneof(
        fc.constantFrom('=', '\\', ' ', '|', 'a='),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      ),
      maxLength: 80,
    });
    fc.assert(
      fc.property(text, text, fc.integer({ min: 60, max: 600 }), (email, name, budget) => {
        const line = formatCef({ ...ALLOWED_LOGIN, user_email: email, app_name: name }, {}, options);
        const fitted = fitCef(line, budget);
        assert.ok(Buffer.byteLength(fitted) <= budget || Buffer.byteLength(fitted) <= line.indexOf('|3|') + 3);
        const header = line.slice(0, line.indexOf('|3|') + 3);
        if (Buffer.byteLength(header) > budget) return; // header alone too long: raw cut
        const full = parseCef(line).extension;
        const cut = parseCef(fitted).extension;
        assert.deepEqual(cut, full.slice(0, cut.length), 'a prefix of whole pairs');
      }),
      { numRuns: 300 },
    );
  });

  it('shortens JSON strings so the message stays JSON', () => {
    const msg = JSON.stringify({ a: 'x'.repeat(3000), b: { c: 'y'.repeat(500) }, n: 1 });
    const fitted = fitJson(msg, 1000)!;
    assert.ok(Buffer.byteLength(fitted) <= 1000);
    const doc = JSON.parse(fitted) as { a: string; n: number; cf_truncated: boolean };
    assert.equal(doc.n, 1);
    assert.equal(doc.cf_truncated, true);
    assert.ok(doc.a.endsWith('…'));
    assert.equal(fitJson('not json', 10), undefined);
  });

  it('drops structured data first when the header alone would crowd out the message', () => {
    const header = `<134>1 - h a 1 login [cfaccess@32473 x="${'s'.repeat(960)}"] `;
    const fitted = fitRecord(
      header,
      'CEF:0|a|b|c|d|e|3|act=login suser=bob',
      'cef',
      1000,
      () => '<134>1 - h a 1 login - ',
    );
    assert.equal(fitted.text, '<134>1 - h a 1 login - CEF:0|a|b|c|d|e|3|act=login suser=bob');
    assert.equal(fitted.truncated, true);
    assert.deepEqual(fitRecord('<1>1 - - - - - - ', 'short', 'cef', 100), {
      text: '<1>1 - - - - - - short',
      truncated: false,
    });
  });
});
