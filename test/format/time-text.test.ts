import assert from 'node:assert/strict';
import fc from 'fast-check';
import { appDomainHost, splitAppDomain } from '../../src/datasets/access-requests/event.js';
import { plainString, truncateUtf8, printableAscii } from '../../src/format/text.js';
import { canonicalize, epochMillis, epochMillisText, formatUtc, parseTimestamp } from '../../src/format/time.js';

describe('format/time', () => {
  it('canonicalizes 0–9 fractional digits and offsets to UTC nanoseconds', () => {
    assert.equal(canonicalize('2014-01-01T05:20:00.12345Z'), '2014-01-01T05:20:00.123450000Z');
    assert.equal(canonicalize('2014-01-01T05:20:00Z'), '2014-01-01T05:20:00.000000000Z');
    assert.equal(canonicalize('2014-01-01T00:20:00.000000001-05:00'), '2014-01-01T05:20:00.000000001Z');
    assert.equal(canonicalize('2014-01-01t05:20:00z'), '2014-01-01T05:20:00.000000000Z');
  });

  it('rejects what is not RFC 3339', () => {
    for (const bad of [
      '2014-13-01T00:00:00Z',
      '2014-02-30T00:00:00Z',
      '2014-01-01T24:00:00Z',
      '2014-01-01',
      '2014-01-01T00:00:00',
      '2014-01-01T00:00:00.1234567890Z',
      '',
    ]) {
      assert.equal(parseTimestamp(bad), undefined, bad);
    }
  });

  it('orders canonical strings like the instants they name (property)', () => {
    const ns = fc.bigInt({ min: 0n, max: 253402300799999999999n });
    fc.assert(
      fc.property(ns, ns, (a, b) => {
        const text = (n: bigint) => {
          const ms = Number(n / 1_000_000n);
          const frac = String(n % 1_000_000_000n).padStart(9, '0');
          return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
        };
        const ca = canonicalize(text(a))!;
        const cb = canonicalize(text(b))!;
        assert.equal(ca, text(a));
        assert.equal(Math.sign(a < b ? -1 : a > b ? 1 : 0), Math.sign(ca < cb ? -1 : ca > cb ? 1 : 0));
      }),
    );
  });
});

describe('format/text', () => {
  it('truncates to whole code points within the byte limit (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: 0, max: 40 }), (text, max) => {
        const cut = truncateUtf8(text, max);
        assert.ok(Buffer.byteLength(cut) <= max);
        assert.ok(text.startsWith(cut));
        assert.equal(Buffer.from(cut).toString(), cut, 'no broken surrogate');
        const next = text.slice(cut.length, cut.length + (text.codePointAt(cut.length)! > 0xffff ? 2 : 1));
        if (cut.length < text.length) assert.ok(Buffer.byteLength(cut + next) > max, 'cut as late as possible');
      }),
    );
  });

  it('keeps printable ASCII only, NILVALUE when empty', () => {
    assert.equal(printableAscii('a b\tc', 10), 'abc');
    assert.equal(printableAscii('', 10), '-');
    assert.equal(printableAscii(undefined, 10), '-');
  });
});

describe('format/event appDomainHost', () => {
  it("gives splitAppDomain's host for any text (property)", () => {
    const piece = fc.oneof(
      fc.constantFrom('/', '?', '#', ':', '@', ' ', '\u00a0', '\u2028', '[', ']', 'a.b', 'https://', '8443'),
      fc.string({ unit: 'binary', maxLength: 3 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (parts) => {
        const text = parts.join('');
        assert.equal(appDomainHost(text), splitAppDomain(text).host, JSON.stringify(text));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('format/event splitAppDomain', () => {
  it('splits host and path', () => {
    assert.deepEqual(splitAppDomain('wiki.example.com/admin/x'), {
      host: 'wiki.example.com',
      path: '/admin/x',
      original: 'wiki.example.com/admin/x',
    });
    assert.deepEqual(splitAppDomain('https://app.example.com:8443'), {
      host: 'app.example.com',
      path: undefined,
      original: 'https://app.example.com:8443',
    });
    assert.equal(splitAppDomain('[2001:db8::1]:443/x').host, '2001:db8::1');
    assert.equal(splitAppDomain('*.example.com').host, '*.example.com');
  });
});

describe('format/text plainString', () => {
  it('returns an equal string, whatever it holds (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => plainString(text) === text),
      { numRuns: 500 },
    );
    const key = 'a'.repeat(20) + String(Date.now()); // used as a key below, so V8 may make it a thin string
    const holder: Record<string, number> = { [key]: 1 };
    assert.equal(holder[key], 1);
    assert.equal(plainString(key), key);
  });
});

describe('format/time fast path', () => {
  it('agrees with Date for every Zulu shape the API sends (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -2_000_000_000_000, max: 253_402_300_799_999 }),
        fc.integer({ min: 0, max: 9 }),
        fc.nat({ max: 999_999_999 }),
        (ms, digits, extra) => {
          const iso = new Date(ms).toISOString();
          if (iso.startsWith('+') || iso.startsWith('-') || iso.startsWith('00')) return;
          const fracText =
            String(((ms % 1000) + 1000) % 1000).padStart(3, '0') + String(extra).padStart(9, '0').slice(0, 6);
          const text = `${iso.slice(0, 19)}${digits === 0 ? '' : `.${fracText.slice(0, digits)}`}Z`;
          const ts = parseTimestamp(text)!;
          const expectedMs =
            Math.floor(ms / 1000) * 1000 +
            (digits === 0 ? 0 : Math.floor(Number(fracText.slice(0, digits).padEnd(9, '0')) / 1e6));
          assert.equal(ts.epochMs, expectedMs, text);
          assert.equal(epochMillis(text), expectedMs, text);
          assert.equal(ts.fractionDigits, digits);
          assert.equal(canonicalize(text)!.slice(0, 19), iso.slice(0, 19));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('formats UTC as Date does, for every millisecond of years 0–9999 (property)', () => {
    const check = (ms: number) => {
      const iso = new Date(ms).toISOString();
      assert.equal(formatUtc({ epochMs: ms, subMsNanos: 0, fractionDigits: 3 }, 3), iso, String(ms));
      assert.equal(formatUtc({ epochMs: ms, subMsNanos: 0, fractionDigits: 0 }, 0), `${iso.slice(0, 19)}Z`);
    };
    for (const ms of [
      -62_167_219_200_000, -1, 0, 951_782_400_000, 951_868_799_999, 4_107_542_400_000, 253_402_300_799_999,
    ])
      check(ms);
    fc.assert(
      fc.property(fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }), (ms) => check(ms)),
      { numRuns: 5000 },
    );
    // The same second twice in a row (the kept text) and a different one after it.
    check(1_714_557_600_123);
    check(1_714_557_600_999);
    check(1_714_557_601_000);
  });

  it('writes epoch milliseconds as String() does (property)', () => {
    for (const ms of [
      0, 999, 1000, 1001, 1714557600000, 1714557600007, 2_147_483_647_999, 2_147_483_648_000, -1, -1500, 1.5,
      253_402_300_799_999,
    ]) {
      assert.equal(epochMillisText(ms), String(ms), String(ms));
    }
    fc.assert(
      fc.property(
        fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }),
        (ms) => epochMillisText(ms) === String(ms),
      ),
      { numRuns: 5000 },
    );
  });

  it('handles leap days, leap seconds and invalid days', () => {
    assert.equal(parseTimestamp('2024-02-29T00:00:00Z')?.epochMs, Date.UTC(2024, 1, 29));
    assert.equal(parseTimestamp('2023-02-29T00:00:00Z'), undefined);
    assert.equal(parseTimestamp('2016-12-31T23:59:60Z')?.epochMs, Date.UTC(2017, 0, 1));
    assert.equal(parseTimestamp('2024-01-01T00:00:00.Z'), undefined);
    assert.equal(parseTimestamp('2024-01-01T00:00:0aZ'), undefined);
    // The same second in a row (the kept prefix), with valid and invalid fractions after it.
    const base = Date.UTC(2024, 4, 1, 10, 0, 3);
    assert.equal(epochMillis('2024-05-01T10:00:03.1Z'), base + 100);
    assert.equal(epochMillis('2024-05-01T10:00:03.25Z'), base + 250);
    assert.equal(epochMillis('2024-05-01T10:00:03Z'), base);
    assert.equal(epochMillis('2024-05-01T10:00:03.x5Z'), undefined);
    assert.equal(epochMillis('2024-05-01T10:00:03.Z'), undefined);
    assert.equal(epochMillis('2024-05-01T10:00:03.1234567891Z'), undefined);
    assert.equal(parseTimestamp('2024-05-01T10:00:03.999999999Z')?.subMsNanos, 999_999);
    for (const text of [
      '2024-02-29T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2016-12-31T23:59:60Z',
      '2024-01-01T00:00:00.Z',
      '2024-01-01T00:00:00.1aZ',
      '2024-01-01T01:00:00+01:00',
    ]) {
      assert.equal(epochMillis(text), parseTimestamp(text)?.epochMs, text);
    }
  });
});
