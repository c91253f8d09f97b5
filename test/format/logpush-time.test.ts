import assert from 'node:assert/strict';
import fc from 'fast-check';
import { logpushTimestamp } from '../../src/format/logpush-time.js';
import { canonicalTime } from '../../src/format/time.js';

const canonical = (value: unknown) => {
  const ts = logpushTimestamp(value);
  return ts && canonicalTime(ts);
};

describe('format/logpush-time: every timestamp_format', () => {
  it('reads unixnano, unix, rfc3339, rfc3339ms and rfc3339ns to the same instant', () => {
    assert.equal(
      // eslint-disable-next-line no-loss-of-precision -- the point: what JSON.parse makes of a unixnano integer
      canonical(1714557600123456789),
      '2024-05-01T10:00:00.123456800Z',
      'a JSON number keeps ~256 ns (read as its shortest decimal)',
    );
    assert.equal(canonical('1714557600123456789'), '2024-05-01T10:00:00.123456789Z', 'as text: exact');
    assert.equal(canonical(1714557600), '2024-05-01T10:00:00.000000000Z');
    assert.equal(canonical('2024-05-01T10:00:00Z'), '2024-05-01T10:00:00.000000000Z');
    assert.equal(canonical('2024-05-01T10:00:00.123Z'), '2024-05-01T10:00:00.123000000Z');
    assert.equal(canonical('2024-05-01T10:00:00.123456789Z'), '2024-05-01T10:00:00.123456789Z');
    assert.equal(
      canonical(1714557600123),
      '2024-05-01T10:00:00.123000000Z',
      'milliseconds (not a Logpush format, tolerated)',
    );
    assert.equal(canonical(1714557600123456), '2024-05-01T10:00:00.123456000Z', 'microseconds');
    assert.equal(canonical(1714557600.5), '2024-05-01T10:00:00.500000000Z');
  });

  it('reads a JSON number exactly as its String() digits (property: number and numeric string agree)', () => {
    // The number path skips String(value) (slow); the string path is the reference it must match.
    const same = (value: number) =>
      assert.deepEqual(logpushTimestamp(value), logpushTimestamp(String(value)), String(value));
    const ms = fc.bigInt({ min: 1_000_000_000_000n, max: 999_999_999_999_999n });
    fc.assert(
      fc.property(
        fc.oneof(
          // unixnano around a millisecond boundary, where rounding the quotient the wrong way shows.
          fc.tuple(ms, fc.integer({ min: -70_000, max: 70_000 })).map(([m, d]) => Number(m * 1_000_000n + BigInt(d))),
          fc.bigInt({ min: 2n ** 53n, max: 10n ** 21n + 10n ** 6n }).map(Number),
          fc.maxSafeNat(),
          fc.double({ min: 0, max: 1e22, noNaN: true }),
        ),
        same,
      ),
      { numRuns: 20_000 },
    );
    for (const edge of [
      2 ** 53,
      2 ** 53 - 1,
      1e17,
      1e17 - 16,
      1e21,
      1e21 - 65_536,
      0,
      -0,
      1e11,
      1e11 - 1,
      1e14,
      1e14 - 1,
      5e-324,
    ])
      same(edge);
  });

  it('refuses what is none of them', () => {
    for (const bad of ['yesterday', '', -5, Number.NaN, null, undefined, {}, '2024-13-01T00:00:00Z', true]) {
      assert.equal(logpushTimestamp(bad), undefined, typeof bad === 'object' ? JSON.stringify(bad) : typeof bad);
    }
  });

  it('reads a number of any unit exactly like nanosecond BigInt arithmetic would (property)', () => {
    // The reference: nanoseconds = whole × 10^(9 − unit) + the fraction's share, in BigInt.
    const reference = (text: string): string | undefined => {
      const [whole = '', fraction = ''] = text.split('.');
      const unit = whole.length <= 11 ? 0 : whole.length <= 14 ? 3 : whole.length <= 17 ? 6 : 9;
      const scale = 9 - unit;
      const nanos =
        BigInt(whole) * 10n ** BigInt(scale) +
        (scale === 0 ? 0n : BigInt((fraction + '0'.repeat(scale)).slice(0, scale) || '0'));
      const epochMs = Number(nanos / 1_000_000n);
      if (!Number.isSafeInteger(epochMs) || epochMs > 8.64e15) return undefined;
      return `${epochMs}+${Number(nanos % 1_000_000n)}`;
    };
    const digits = (min: number, max: number) =>
      fc
        .array(fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'), { minLength: min, maxLength: max })
        .map((d) => d.join(''));
    fc.assert(
      fc.property(digits(1, 22), fc.option(digits(1, 12), { nil: undefined }), (whole, fraction) => {
        const text = fraction === undefined ? whole : `${whole}.${fraction}`;
        const ts = logpushTimestamp(text);
        assert.equal(ts && `${ts.epochMs}+${ts.subMsNanos}`, reference(text), text);
      }),
      { numRuns: 2000 },
    );
  });
});
