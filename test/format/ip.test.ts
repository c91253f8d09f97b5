import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import fc from 'fast-check';
import { isIPv4Fast } from '../../src/format/ip.js';

describe('format/ip isIPv4Fast', () => {
  it('agrees with net.isIPv4 on examples', () => {
    for (const text of ['1.2.3.4', '255.255.255.255', '0.0.0.0', '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1..3.4', '1.2.3.4 ', 'a.b.c.d', '', '1.2.3.04', '10.0.0.0']) {
      assert.equal(isIPv4Fast(text), isIPv4(text), text);
    }
  });

  it('agrees with net.isIPv4 on arbitrary dotted strings (property)', () => {
    const part = fc.oneof(fc.nat({ max: 300 }).map(String), fc.string({ unit: fc.constantFrom('0', '1', '9', '.', 'x', ' '), maxLength: 4 }));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), (parts) => {
        const text = parts.join('.');
        assert.equal(isIPv4Fast(text), isIPv4(text), text);
      }),
      { numRuns: 2000 },
    );
  });
});
