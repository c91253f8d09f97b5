/**
 * A pushed `access_requests` record (Logpush's PascalCase, every timestamp_format) is written
 * exactly as the polled event: one schema in the SIEM whichever way an event came.
 */
import assert from 'node:assert/strict';
import { DEFAULT_FORMAT_CONFIG, formatterOptions } from '../../../src/config/formatter.js';
import { accessRequests } from '../../../src/datasets/access-requests/index.js';
import { recordFormatter } from '../../../src/datasets/formatters.js';
import type { AccessEvent } from '../../../src/datasets/access-requests/event.js';
import { RECORD_FORMATS } from '../../../src/format/index.js';
import { ACCOUNT } from '../../support/sample-events.js';

const options = formatterOptions(DEFAULT_FORMAT_CONFIG, { hostname: 'h', structured_data: true });
options.syslog.procId = '1';

/** The API's event with the fields Logpush's dataset has (no app_name/app_type). */
const POLLED: AccessEvent = {
  action: 'login',
  allowed: false,
  app_domain: 'wiki.example.com/admin',
  app_uid: 'df7e2w5f-02b7-4d9d-af26-8d1988fca630',
  connection: 'okta',
  country: 'us',
  created_at: '2024-05-01T10:00:00.123456789Z',
  user_email: 'alice@example.com',
  ip_address: '2001:db8::1',
  purpose_justification_prompt: 'Why do you need access?',
  purpose_justification_response: 'incident 4711',
  ray_id: '187d944c61940c77',
  temporary_access_approvers: ['bob@example.com'],
  temporary_access_duration: 3600,
  user_id: '166befbb-00e3-5e20-bd6e-27245723949f',
};

const pushed = (createdAt: unknown) => ({
  Action: 'login',
  Allowed: false,
  AppDomain: 'wiki.example.com/admin',
  AppUUID: 'df7e2w5f-02b7-4d9d-af26-8d1988fca630',
  Connection: 'okta',
  Country: 'us',
  CreatedAt: createdAt,
  Email: 'alice@example.com',
  IPAddress: '2001:db8::1',
  PurposeJustificationPrompt: 'Why do you need access?',
  PurposeJustificationResponse: 'incident 4711',
  RayID: '187d944c61940c77',
  TemporaryAccessApprovers: ['bob@example.com'],
  TemporaryAccessDuration: 3600,
  UserUID: '166befbb-00e3-5e20-bd6e-27245723949f',
});

describe('datasets/access-requests: pushed records', () => {
  it('rfc3339ns: every format byte for byte the same as the polled event, and the same identity', () => {
    const fromPush = accessRequests.fromPush?.(pushed('2024-05-01T10:00:00.123456789Z'));
    assert.ok(fromPush);
    assert.deepEqual(fromPush, POLLED);
    for (const format of RECORD_FORMATS) {
      const write = recordFormatter(accessRequests, format, options);
      assert.equal(write(fromPush, { accountId: ACCOUNT }), write(POLLED, { accountId: ACCOUNT }), format);
    }
    assert.equal(accessRequests.identity(fromPush), accessRequests.identity(POLLED));
  });

  it('every timestamp_format gives the instant at the precision written', () => {
    const at = (value: unknown) => accessRequests.fromPush?.(pushed(value)).created_at;
    assert.equal(at('1714557600123456789'), '2024-05-01T10:00:00.123456789Z', 'unixnano');
    assert.equal(at(1714557600), '2024-05-01T10:00:00Z', 'unix');
    assert.equal(at('2024-05-01T10:00:00Z'), '2024-05-01T10:00:00Z', 'rfc3339');
    assert.equal(at('2024-05-01T10:00:00.123Z'), '2024-05-01T10:00:00.123Z', 'rfc3339ms');
    assert.equal(at('2024-05-01T10:00:00.123456789Z'), '2024-05-01T10:00:00.123456789Z', 'rfc3339ns');
    assert.equal(at('garbage'), 'garbage', 'kept, and refused for its time like a polled event');
    const cef = recordFormatter(accessRequests, 'cef', options);
    assert.match(cef(accessRequests.fromPush!(pushed(1714557600)), {}), /\|rt=1714557600000 /);
  });

  it('fields it does not know pass through under their own names', () => {
    const event = accessRequests.fromPush!({ ...pushed(1714557600), SessionID: 's-1' });
    assert.equal(event.SessionID, 's-1');
  });
});
