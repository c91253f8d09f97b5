import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isIPv4, isIPv6 } from 'node:net';
import { CEF_LIMITS, escapeCefValue } from '../../../src/format/cef.js';
import { cefExtensionText, cefFormatter, formatCef } from '../../../src/datasets/access-requests/cef.js';
import { splitAppDomain } from '../../../src/datasets/access-requests/event.js';
import { epochMillis } from '../../../src/format/time.js';
import type { AccessEvent } from '../../../src/datasets/access-requests/event.js';
import { pictureControls, truncateUtf8 } from '../../../src/format/text.js';
import { parseCef } from '../../support/cef-parser.js';
import { ACCOUNT, ALLOWED_LOGIN, DENIED_IPV6 } from '../../support/sample-events.js';

const options = { version: '1.2.3', severity: { allowed: 3, denied: 6 } };
const cefExtension = (event: AccessEvent) => parseCef(formatCef(event, {}, options)).extension;

describe('format/cef', () => {
  it('writes ESC, NUL, TAB, DEL and C1 characters from event fields as visible characters, never raw', () => {
    const line = formatCef(
      { user_email: 'a\u001b[31mred\u0000\t\u007f\u0085b', action: 'login\u001b]0;title\u0007' },
      {},
      options,
    );
    assert.match(line, /suser=a␛\[31mred␀␉␡\ufffdb/);
    assert.match(line, /act=login␛\]0;title␇/);
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(line));
  });

  it('formats an allowed login (golden)', () => {
    assert.equal(
      formatCef(ALLOWED_LOGIN, { accountId: ACCOUNT }, options),
      'CEF:0|Cloudflare|Access|1.2.3|login-allowed|Access login allowed|3|rt=1714557600123 act=login outcome=success ' +
        'suser=alice@example.com suid=166befbb-00e3-5e20-bd6e-27245723949f src=198.51.100.7 dhost=wiki.example.com ' +
        'request=wiki.example.com/admin externalId=187d944c61940c77 cs1=df7e2w5f-02b7-4d9d-af26-8d1988fca630 cs1Label=App UID ' +
        'cs2=okta cs2Label=Identity Provider cs3=us cs3Label=Country cs4=self_hosted cs4Label=App Type cs5=Wiki cs5Label=App Name ' +
        'deviceExternalId=0123456789abcdef0123456789abcdef',
    );
  });

  it('formats a denied IPv6 login without optional fields (golden)', () => {
    assert.equal(
      formatCef(DENIED_IPV6, {}, options),
      'CEF:0|Cloudflare|Access|1.2.3|login-denied|Access login denied|6|rt=1714557601000 act=login outcome=failure ' +
        'suser=mallory@example.net c6a2=2001:db8::1 c6a2Label=Source IPv6 Address dhost=vpn.example.com request=vpn.example.com ' +
        'externalId=187d944c61940c78 cs3=ru cs3Label=Country flexString1=why? flexString1Label=Purpose Justification Prompt',
    );
  });

  it('escapes header and extension per the standard', () => {
    const line = formatCef({ action: 'log|in\\x\n', allowed: true, user_email: 'a=b\\c\r\nd|e' }, {}, options);
    assert.equal(
      line,
      'CEF:0|Cloudflare|Access|1.2.3|log\\|in\\\\x-allowed|Access log\\|in\\\\x allowed|3|act=log|in\\\\x\\n outcome=success suser=a\\=b\\\\c\\r\\nd|e',
    );
    const parsed = parseCef(line);
    assert.deepEqual(
      parsed.extension.find(([k]) => k === 'suser'),
      ['suser', 'a=b\\c\r\nd|e'],
    );
  });

  it('takes a missing allowed as the schema default false (denied); a value of another kind is unknown', () => {
    assert.equal(
      formatCef({ action: 'login' }, {}, options),
      'CEF:0|Cloudflare|Access|1.2.3|login-denied|Access login denied|6|act=login outcome=failure',
    );
    assert.equal(
      formatCef({ action: 'login', allowed: 'maybe' }, {}, options),
      'CEF:0|Cloudflare|Access|1.2.3|login-unknown|Access login unknown|6|act=login',
    );
  });

  it('maps purpose justification and temporary access (cs6, flexString1/2, cn1), and leaves them out when empty', () => {
    const event = {
      action: 'login',
      allowed: true,
      purpose_justification_prompt: 'Why?',
      purpose_justification_response: 'INC-1 = on call',
      temporary_access_approvers: ['a@example.com', 'b@example.com'],
      temporary_access_duration: 3600,
    };
    assert.equal(
      formatCef(event, {}, options),
      'CEF:0|Cloudflare|Access|1.2.3|login-allowed|Access login allowed|3|act=login outcome=success cs6=INC-1 \\= on call cs6Label=Purpose Justification ' +
        'flexString1=Why? flexString1Label=Purpose Justification Prompt flexString2=a@example.com, b@example.com flexString2Label=Temporary Access Approvers ' +
        'cn1=3600 cn1Label=Temporary Access Duration Seconds',
    );
    const empty = {
      action: 'login',
      allowed: true,
      purpose_justification_prompt: '',
      purpose_justification_response: '',
      temporary_access_approvers: [],
      temporary_access_duration: 0,
    };
    assert.equal(
      formatCef(empty, {}, options),
      'CEF:0|Cloudflare|Access|1.2.3|login-allowed|Access login allowed|3|act=login outcome=success',
    );
  });

  it('omits src for an address that is not an IP and keeps rt out for a bad timestamp', () => {
    const line = formatCef(
      { ip_address: 'not-an-ip', created_at: 'yesterday', action: 'login', allowed: true },
      {},
      options,
    );
    assert.equal(line, 'CEF:0|Cloudflare|Access|1.2.3|login-allowed|Access login allowed|3|act=login outcome=success');
  });

  it('converts created_at with 0–9 fractional digits and offsets to epoch milliseconds', () => {
    const rt = (created_at: string) => cefExtension({ created_at }).find(([k]) => k === 'rt')?.[1];
    assert.equal(rt('2014-01-01T05:20:00Z'), '1388553600000');
    assert.equal(rt('2014-01-01T05:20:00.1Z'), '1388553600100');
    assert.equal(rt('2014-01-01T05:20:00.12345Z'), '1388553600123');
    assert.equal(rt('2014-01-01T05:20:00.999999999Z'), '1388553600999');
    assert.equal(rt('2014-01-01T07:20:00.5+02:00'), '1388553600500');
  });

  it('truncates over-long values on a UTF-8 boundary to the dictionary maximum', () => {
    const ray = '€'.repeat(20); // 60 bytes; externalId allows 40
    const pairs = cefExtension({ ray_id: ray, action: 'a'.repeat(100) });
    assert.equal(pairs.find(([k]) => k === 'externalId')?.[1], '€'.repeat(13));
    assert.equal(pairs.find(([k]) => k === 'act')?.[1], 'a'.repeat(63));
    const header = parseCef(formatCef({ action: 'x'.repeat(2000), allowed: false }, {}, options)).header;
    assert.ok(header[3]!.endsWith('-denied') && Buffer.byteLength(header[3]!) <= CEF_LIMITS.classId);
    assert.ok(header[4]!.endsWith(' denied') && Buffer.byteLength(header[4]!) <= CEF_LIMITS.name);
  });

  describe('properties over arbitrary Unicode', () => {
    const tricky = fc.constantFrom('\\', '=', '|', '\n', '\r', ' ', '"', ']', 'a=', ' b=c', '\u2028', '\u0085');
    const text = fc.string({
      unit: fc.oneof(tricky, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
      maxLength: 60,
    });
    const fields = [
      'user_email',
      'ip_address',
      'app_uid',
      'app_domain',
      'app_name',
      'app_type',
      'action',
      'connection',
      'country',
      'ray_id',
      'user_id',
    ] as const;
    const eventArb = fc.record(
      Object.fromEntries(fields.map((f) => [f, text])) as Record<(typeof fields)[number], fc.Arbitrary<string>>,
      { requiredKeys: [] },
    );
    const limits: Record<string, number> = {
      act: 63,
      suser: 1023,
      suid: 1023,
      dhost: 1023,
      request: 1023,
      externalId: 40,
      cs1: 4000,
      cs2: 4000,
      cs3: 4000,
      cs4: 4000,
      cs5: 4000,
    };
    const source: Record<string, string> = {
      act: 'action',
      suser: 'user_email',
      suid: 'user_id',
      request: 'app_domain',
      externalId: 'ray_id',
      cs1: 'app_uid',
      cs2: 'connection',
      cs3: 'country',
      cs4: 'app_type',
      cs5: 'app_name',
    };
    const allowedKeys = new Set([
      'rt',
      'act',
      'outcome',
      'suser',
      'suid',
      'src',
      'c6a2',
      'c6a2Label',
      'dhost',
      'request',
      'externalId',
      'cs1',
      'cs1Label',
      'cs2',
      'cs2Label',
      'cs3',
      'cs3Label',
      'cs4',
      'cs4Label',
      'cs5',
      'cs5Label',
      'cs6',
      'cs6Label',
      'flexString1',
      'flexString1Label',
      'flexString2',
      'flexString2Label',
      'cn1',
      'cn1Label',
      'deviceExternalId',
    ]);

    it('is one line with exactly 7 header fields, and every value parses back to the original', () => {
      fc.assert(
        fc.property(eventArb, fc.boolean(), (event: AccessEvent, allowed) => {
          const line = formatCef({ ...event, allowed }, { accountId: ACCOUNT }, options);
          assert.ok(!/[\r\n]/.test(line), 'no raw line break');
          // eslint-disable-next-line no-control-regex
          assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(line), 'no raw control character (ESC, NUL, C1 …)');
          const parsed = parseCef(line); // throws on any escaping error
          assert.equal(parsed.version, 'CEF:0'.slice(4));
          assert.equal(parsed.header.length, 6);
          const keys = parsed.extension.map(([k]) => k);
          assert.equal(new Set(keys).size, keys.length, 'no duplicate key');
          for (const [key, value] of parsed.extension) {
            assert.ok(allowedKeys.has(key), `unexpected key ${key}`);
            const field = source[key];
            if (field !== undefined)
              assert.equal(value, pictureControls(truncateUtf8(event[field] as string, limits[key]!)), key);
          }
          for (const [key, field] of Object.entries(source)) {
            if (event[field] !== undefined) assert.ok(keys.includes(key), `missing ${key}`);
          }
        }),
        { numRuns: 500 },
      );
    });

    it('matches a plain pair-by-pair reference, with every field present or some missing (property)', () => {
      const value = (v: string, max: number) => escapeCefValue(truncateUtf8(v, max));
      const reference = (
        event: Record<string, string | boolean | undefined>,
        accountId: string | undefined,
      ): string => {
        const pairs: string[] = [];
        const ms = typeof event.created_at === 'string' ? epochMillis(event.created_at) : undefined;
        if (ms !== undefined) pairs.push(`rt=${ms}`);
        const add = (key: string, field: string, max: number) => {
          const v = event[field];
          if (typeof v === 'string') pairs.push(`${key}=${value(v, max)}`);
        };
        add('act', 'action', 63);
        if (typeof event.allowed === 'boolean' || event.allowed === undefined)
          pairs.push(`outcome=${event.allowed === true ? 'success' : 'failure'}`);
        add('suser', 'user_email', 1023);
        add('suid', 'user_id', 1023);
        const ip = typeof event.ip_address === 'string' ? event.ip_address.trim() : undefined;
        if (ip !== undefined && isIPv4(ip)) pairs.push(`src=${ip}`);
        else if (ip !== undefined && isIPv6(ip)) pairs.push(`c6a2=${value(ip, 45)}`, 'c6a2Label=Source IPv6 Address');
        if (typeof event.app_domain === 'string') {
          const host = splitAppDomain(event.app_domain).host;
          if (host !== '') pairs.push(`dhost=${value(host, 1023)}`);
          pairs.push(`request=${value(event.app_domain, 1023)}`);
        }
        add('externalId', 'ray_id', 40);
        const labels = [
          ['cs1', 'app_uid', 'App UID'],
          ['cs2', 'connection', 'Identity Provider'],
          ['cs3', 'country', 'Country'],
          ['cs4', 'app_type', 'App Type'],
          ['cs5', 'app_name', 'App Name'],
        ];
        for (const [key, field, label] of labels) {
          const v = event[field!];
          if (typeof v === 'string') pairs.push(`${key}=${value(v, 4000)}`, `${key}Label=${label}`);
        }
        const response = event.purpose_justification_response;
        if (typeof response === 'string' && response !== '')
          pairs.push(`cs6=${value(response, 4000)}`, 'cs6Label=Purpose Justification');
        const prompt = event.purpose_justification_prompt;
        if (typeof prompt === 'string' && prompt !== '')
          pairs.push(`flexString1=${value(prompt, 1023)}`, 'flexString1Label=Purpose Justification Prompt');
        if (accountId !== undefined) pairs.push(`deviceExternalId=${value(accountId, 255)}`);
        return pairs.join(' ');
      };
      const realistic = fc.record(
        {
          created_at: fc.constantFrom('2024-05-01T10:00:03.13536Z', '2024-05-01T10:00:03Z', 'not a time'),
          allowed: fc.boolean(),
          ip_address: fc.oneof(
            fc.constantFrom('198.51.100.7', '2001:db8::1', ' 203.0.113.9 ', 'fe80::1%eth0', '::ffff:1.2.3.4'),
            text,
          ),
          app_domain: fc.oneof(
            fc.constantFrom('app.example.com/admin', 'https://x.example.com:8443/p', '/only/path'),
            text,
          ),
          ...Object.fromEntries(
            [
              'user_email',
              'app_uid',
              'app_name',
              'app_type',
              'action',
              'connection',
              'country',
              'ray_id',
              'user_id',
              'purpose_justification_prompt',
              'purpose_justification_response',
            ].map((f) => [f, fc.oneof(text, fc.constant(''))]),
          ),
        },
        { requiredKeys: [] },
      );
      const everyField = realistic.map((e) => ({
        created_at: '2024-05-01T10:00:03.13536Z',
        allowed: true,
        action: 'login',
        user_email: 'a@b',
        user_id: 'u',
        ip_address: '198.51.100.7',
        app_domain: 'app.example.com/x',
        ray_id: 'r',
        app_uid: 'x',
        connection: 'okta',
        country: 'de',
        app_type: 'saas',
        app_name: 'n',
        ...e,
      }));
      const format = cefFormatter(options);
      fc.assert(
        fc.property(
          fc.oneof(realistic, everyField),
          fc.option(fc.constantFrom(ACCOUNT, 'a=b\\c'), { nil: undefined }),
          (event, accountId) => {
            const expected = reference(event, accountId);
            assert.equal(cefExtensionText(event as AccessEvent, { accountId }), expected);
            assert.ok(format(event, { accountId }).endsWith(`|${expected}`));
          },
        ),
        { numRuns: 1000 },
      );
    });

    it('escaping then parsing a single value is the identity (control characters other than CR/LF as their pictures)', () => {
      fc.assert(
        fc.property(text, (value) => {
          const parsed = parseCef(formatCef({ user_email: value }, {}, options));
          assert.deepEqual(parsed.extension, [
            ['outcome', 'failure'],
            ['suser', pictureControls(value)],
          ]);
        }),
        { numRuns: 1000 },
      );
    });
  });
});

describe('format/cef cefFormatter', () => {
  it('gives the same lines as formatCef (header cache)', async () => {
    const { cefFormatter } = await import('../../../src/datasets/access-requests/cef.js');
    const format = cefFormatter(options);
    for (const event of [
      ALLOWED_LOGIN,
      DENIED_IPV6,
      { ...ALLOWED_LOGIN, allowed: false },
      ALLOWED_LOGIN,
      { action: 'a|b' },
    ]) {
      assert.equal(format(event, { accountId: ACCOUNT }), formatCef(event, { accountId: ACCOUNT }, options));
    }
  });
});

describe('format/cef with a pre-parsed time', () => {
  it('uses context.epochMs for rt, the same as parsing created_at', () => {
    const parsed = formatCef(ALLOWED_LOGIN, { accountId: ACCOUNT }, options);
    assert.equal(formatCef(ALLOWED_LOGIN, { accountId: ACCOUNT, epochMs: 1714557600123 }, options), parsed);
  });
});

describe('format/cef plainValues hint', () => {
  it('gives the same line as without the hint whenever the JSON text had no backslash and no "=" (property)', () => {
    const text = fc.string({
      unit: fc.oneof(
        fc.constantFrom('=', '\\', '\n', '|', ' ', '"'),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      ),
      maxLength: 30,
    });
    fc.assert(
      fc.property(
        fc.record(
          { user_email: text, action: text, app_name: text, ray_id: text, country: text },
          { requiredKeys: [] },
        ),
        (event) => {
          const json = JSON.stringify(event);
          const plain = !json.includes('\\') && !json.includes('=');
          assert.equal(
            formatCef(event, { accountId: 'a=b', plainValues: plain }, options),
            formatCef(event, { accountId: 'a=b' }, options),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });
});
