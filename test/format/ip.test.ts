import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { isIPv4Fast, isIPv6Fast } from '../../src/format/ip.js';

describe('format/ip isIPv4Fast', () => {
  it('agrees with net.isIPv4 on examples', () => {
    for (const text of [
      '1.2.3.4',
      '255.255.255.255',
      '0.0.0.0',
      '256.1.1.1',
      '1.2.3',
      '1.2.3.4.5',
      '01.2.3.4',
      '1..3.4',
      '1.2.3.4 ',
      'a.b.c.d',
      '',
      '1.2.3.04',
      '10.0.0.0',
    ]) {
      assert.equal(isIPv4Fast(text), isIPv4(text), text);
    }
  });

  it('agrees with net.isIPv4 on arbitrary dotted strings (property)', () => {
    const part = fc.oneof(
      fc.nat({ max: 300 }).map(String),
      fc.string({ unit: fc.constantFrom('0', '1', '9', '.', 'x', ' '), maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), (parts) => {
        const text = parts.join('.');
        assert.equal(isIPv4Fast(text), isIPv4(text), text);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('format/ip isIPv6Fast', () => {
  it('agrees with net.isIPv6 on examples', () => {
    const examples = [
      '::',
      '::1',
      '1::',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7::',
      '::2:3:4:5:6:7:8',
      '1::8',
      '1:2:3:4::5:6:7:8',
      '2001:db8::1',
      'fe80::1%eth0',
      '::ffff:1.2.3.4',
      '1:2:3:4:5:6:1.2.3.4',
      ':::',
      '1:::2',
      '1::2::3',
      ':1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:',
      '12345::',
      'g::1',
      '1:2:3:4:5:6:7:8:9',
      '',
      ':',
      '2001:DB8::A',
      ' ::1',
      '::1 ',
    ];
    for (const text of examples) assert.equal(isIPv6Fast(text), isIPv6(text), text);
  });

  it('agrees with net.isIPv6 on arbitrary colon-separated strings (property)', () => {
    const group = fc.oneof(
      fc.string({ unit: fc.constantFrom('0', '1', 'a', 'F', 'f', '9'), maxLength: 5 }),
      fc.constantFrom('', '1.2.3.4', '255.0.0.01', 'g', '1%eth0', ' '),
    );
    fc.assert(
      fc.property(fc.array(group, { minLength: 1, maxLength: 10 }), (groups) => {
        const text = groups.join(':');
        assert.equal(isIPv6Fast(text), isIPv6(text), text);
      }),
      { numRuns: 20000 },
    );
  });
});
