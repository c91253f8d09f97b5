import assert from 'node:assert/strict';
import { eventHash } from '../../../src/format/identity.js';
import { sharedAccessIdentity } from '../../../src/datasets/access-requests/identity.js';
import { fromPushedAccessRequest } from '../../../src/datasets/access-requests/pushed.js';
import { ALLOWED_LOGIN } from '../../support/sample-events.js';

/** The API row's twin as Logpush writes it (no app_name / app_type), CreatedAt in one format. */
function pushedTwin(createdAt: unknown): Record<string, unknown> {
  const event = ALLOWED_LOGIN as Record<string, unknown>;
  return {
    Action: event.action,
    Allowed: event.allowed,
    AppDomain: event.app_domain,
    AppUUID: event.app_uid,
    Connection: event.connection,
    Country: String(event.country).toUpperCase(),
    CreatedAt: createdAt,
    Email: event.user_email,
    IPAddress: event.ip_address,
    RayID: event.ray_id,
    UserUID: event.user_id,
    PurposeJustificationPrompt: event.purpose_justification_prompt,
    PurposeJustificationResponse: event.purpose_justification_response,
    TemporaryAccessApprovers: event.temporary_access_approvers,
    TemporaryAccessDuration: event.temporary_access_duration,
  };
}

describe('datasets/access-requests: the identity poll and push share', () => {
  const created = (ALLOWED_LOGIN as { created_at: string }).created_at;
  const ms = Date.parse(created);
  const seconds = Math.floor(ms / 1000);
  const formats: [string, unknown][] = [
    ['unix', seconds],
    ['unixnano', `${ms}000000`],
    ['rfc3339', new Date(seconds * 1000).toISOString().replace('.000Z', 'Z')],
    ['rfc3339ms', new Date(ms).toISOString()],
  ];

  it('a polled row and its pushed twin have the same shared identity in every timestamp_format, though their content hashes differ', () => {
    const polled = sharedAccessIdentity(ALLOWED_LOGIN);
    for (const [name, value] of formats) {
      const pushed = fromPushedAccessRequest(pushedTwin(value));
      assert.equal(sharedAccessIdentity(pushed), polled, name);
      assert.notEqual(eventHash(pushed), eventHash(ALLOWED_LOGIN), `${name}: the full hash tells them apart`);
    }
  });

  it('differs when any shared field differs, or the second does', () => {
    const base = sharedAccessIdentity(ALLOWED_LOGIN);
    const fields = [
      'action',
      'allowed',
      'app_domain',
      'app_uid',
      'connection',
      'ip_address',
      'ray_id',
      'user_email',
      'user_id',
    ];
    for (const field of fields) {
      const changed = { ...ALLOWED_LOGIN, [field]: field === 'allowed' ? !ALLOWED_LOGIN.allowed : 'other' };
      assert.notEqual(sharedAccessIdentity(changed), base, field);
    }
    const later = { ...ALLOWED_LOGIN, created_at: new Date((seconds + 1) * 1000).toISOString() };
    assert.notEqual(sharedAccessIdentity(later), base, 'the next second');
    // Fields only the API has do not count.
    assert.equal(sharedAccessIdentity({ ...ALLOWED_LOGIN, app_name: 'renamed' }), base);
  });
});
