import assert from 'node:assert/strict';
import fc from 'fast-check';
import { recordFormatter } from '../../../src/datasets/formatters.js';
import { POLLED } from '../../../src/datasets/index.js';
import { accessSyslogFields } from '../../../src/datasets/access-requests/syslog.js';
import {
  escapeSdValue,
  formatRfc3164 as formatRfc3164With,
  formatRfc5424 as formatRfc5424With,
  type SyslogOptions,
} from '../../../src/format/syslog.js';
import type { AccessEvent } from '../../../src/datasets/access-requests/event.js';
import type { EventContext } from '../../../src/format/record.js';

/** The shared envelopes with the Access dataset's fields. */
const formatRfc5424 = (e: AccessEvent, c: EventContext, m: string, o: SyslogOptions) =>
  formatRfc5424With(e, c, m, o, accessSyslogFields);
const formatRfc3164 = (e: AccessEvent, c: EventContext, m: string, o: SyslogOptions) =>
  formatRfc3164With(e, c, m, o, accessSyslogFields);
import { pictureControls, truncateUtf8 } from '../../../src/format/text.js';
import { parseRfc5424 } from '../../support/rfc5424-parser.js';
import { ACCOUNT, ALLOWED_LOGIN, DENIED_IPV6 } from '../../support/sample-events.js';

const options: SyslogOptions = {
  facility: 16,
  severity: { allowed: 6, denied: 4 },
  appName: 'cf-access',
  hostname: 'shipper01',
  procId: '4242',
  structuredData: false,
};

describe('format/syslog RFC 5424', () => {
  it('builds the header from the event (golden)', () => {
    assert.equal(
      formatRfc5424(ALLOWED_LOGIN, {}, 'MSG', options),
      '<134>1 2024-05-01T10:00:00.123456Z shipper01 cf-access 4242 login - MSG',
    );
    assert.equal(
      formatRfc5424(DENIED_IPV6, {}, 'M', options),
      '<132>1 2024-05-01T10:00:01Z shipper01 cf-access 4242 login - M',
    );
  });

  it('keeps up to 6 fractional digits as the source had them, in UTC', () => {
    const at = (created_at: string) => parseRfc5424(formatRfc5424({ created_at }, {}, 'x', options)).timestamp;
    assert.equal(at('2024-05-01T10:00:00.1Z'), '2024-05-01T10:00:00.1Z');
    assert.equal(at('2024-05-01T12:00:00.123+02:00'), '2024-05-01T10:00:00.123Z');
    assert.equal(at('2024-05-01T10:00:00.9999999Z'), '2024-05-01T10:00:00.999999Z');
    assert.equal(at('bad'), '-');
  });

  it('limits HOSTNAME, APP-NAME and MSGID to printable ASCII and their lengths', () => {
    const line = formatRfc5424({ action: 'lögin with spaces and a very long action name indeed' }, {}, 'm', {
      ...options,
      hostname: 'h'.repeat(300),
      appName: 'app name ü'.repeat(10),
    });
    const parsed = parseRfc5424(line);
    assert.equal(parsed.hostname.length, 255);
    assert.equal(parsed.appName.length, 48);
    assert.equal(parsed.msgId, 'lginwithspacesandaverylongaction');
    assert.equal(formatRfc5424({}, {}, 'm', { ...options, hostname: ' ' }).split(' ')[2], '-');
  });

  it('adds structured data with escaped values (golden)', () => {
    const line = formatRfc5424(
      { action: 'login', allowed: true, user_email: 'a"b\\c]d' },
      { accountId: ACCOUNT },
      'MSG',
      { ...options, structuredData: true },
    );
    assert.equal(
      line,
      `<134>1 - shipper01 cf-access 4242 login [cfaccess@32473 action="login" allowed="true" user_email="a\\"b\\\\c\\]d" account_id="${ACCOUNT}"] MSG`,
    );
    assert.deepEqual(parseRfc5424(line).sd[0]!.params[2], ['user_email', 'a"b\\c]d']);
  });

  it('adds purpose justification and temporary access as SD params when set, and leaves them out when empty', () => {
    const sd = (event: Record<string, unknown>) =>
      parseRfc5424(formatRfc5424(event, {}, 'MSG', { ...options, structuredData: true })).sd;
    const set = sd({
      action: 'login',
      purpose_justification_prompt: 'Why?',
      purpose_justification_response: 'INC-7 "urgent"',
      temporary_access_approvers: ['a@example.com', 'b@example.com'],
      temporary_access_duration: 3600,
    });
    assert.deepEqual(set, [
      {
        id: 'cfaccess@32473',
        params: [
          ['action', 'login'],
          ['purpose_justification_prompt', 'Why?'],
          ['purpose_justification_response', 'INC-7 "urgent"'],
          ['temporary_access_approvers', 'a@example.com, b@example.com'],
          ['temporary_access_duration', '3600'],
        ],
      },
    ]);
    const empty = sd({
      action: 'login',
      purpose_justification_prompt: '',
      purpose_justification_response: '',
      temporary_access_approvers: [],
      temporary_access_duration: 0,
    });
    assert.deepEqual(empty, [{ id: 'cfaccess@32473', params: [['action', 'login']] }]);
  });

  it('SD values round-trip and no input creates a new line or a new param (property)', () => {
    const tricky = fc.constantFrom('"', '\\', ']', '[', '=', ' ', '\n', '\r', 'x="y"');
    const text = fc.string({
      unit: fc.oneof(tricky, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
      maxLength: 40,
    });
    fc.assert(
      fc.property(text, text, text, (email, domain, action) => {
        const line = recordFormatter(POLLED, 'rfc5424', {
          cef: { version: '1', severity: { allowed: 3, denied: 6 } },
          ecs: { includeOriginal: false },
          syslog: { ...options, structuredData: true },
        })({ user_email: email, app_domain: domain, action, allowed: false }, {});
        assert.ok(!/[\r\n]/.test(line));
        const parsed = parseRfc5424(line);
        const params = Object.fromEntries(parsed.sd[0]!.params);
        assert.deepEqual(Object.keys(params), ['action', 'allowed', 'user_email', 'app_domain']);
        assert.equal(params.user_email, pictureControls(truncateUtf8(email, 4000).replace(/[\r\n]/g, ' ')));
        assert.equal(params.app_domain, pictureControls(domain.replace(/[\r\n]/g, ' ')));
        // eslint-disable-next-line no-control-regex
        assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(line), 'no raw control character');
        assert.ok(parsed.msg.startsWith('CEF:0|'));
      }),
      { numRuns: 500 },
    );
  });

  it('escapes only what RFC 5424 names', () => {
    assert.equal(escapeSdValue('a"b\\c]d[e=f'), 'a\\"b\\\\c\\]d[e=f');
  });
});

describe('format/syslog RFC 3164', () => {
  it('uses the event time in UTC with a space-padded day (golden)', () => {
    assert.equal(
      formatRfc3164(ALLOWED_LOGIN, {}, 'MSG', options),
      '<134>May  1 10:00:00 shipper01 cf-access[4242]: MSG',
    );
    assert.equal(
      formatRfc3164({ created_at: '2024-12-24T23:59:59+01:00', allowed: false }, {}, 'M', { ...options, procId: '-' }),
      '<132>Dec 24 22:59:59 shipper01 cf-access: M',
    );
  });

  it('wraps the chosen message format', () => {
    const opts = {
      cef: { version: '1', severity: { allowed: 3, denied: 6 } },
      ecs: { includeOriginal: false },
      syslog: options,
    };
    const line = recordFormatter(POLLED, 'rfc3164', opts, 'json')(ALLOWED_LOGIN, {});
    assert.deepEqual(JSON.parse(line.slice(line.indexOf(': ') + 2)), ALLOWED_LOGIN);
  });
});
