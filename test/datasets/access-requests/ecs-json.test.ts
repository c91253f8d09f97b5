import assert from 'node:assert/strict';
import { ecsDocument, formatEcs } from '../../../src/datasets/access-requests/ecs.js';
import { formatJson } from '../../../src/format/json.js';
import { ACCOUNT, ALLOWED_LOGIN, DENIED_IPV6 } from '../../support/sample-events.js';

describe('format/json', () => {
  it('is the event as received plus account_id, on one line', () => {
    const line = formatJson({ ...ALLOWED_LOGIN, unknown_field: { nested: 'a\nb' } }, { accountId: ACCOUNT });
    assert.ok(!line.includes('\n'));
    assert.deepEqual(JSON.parse(line), { ...ALLOWED_LOGIN, unknown_field: { nested: 'a\nb' }, account_id: ACCOUNT });
    assert.deepEqual(Object.keys(JSON.parse(line) as object).slice(0, 3), ['user_email', 'ip_address', 'app_uid']);
  });

  it('does not add account_id when unknown', () => {
    assert.deepEqual(JSON.parse(formatJson(DENIED_IPV6)), DENIED_IPV6);
  });
});

describe('format/ecs', () => {
  it('maps an allowed login (golden)', () => {
    assert.deepEqual(ecsDocument(ALLOWED_LOGIN, { accountId: ACCOUNT }), {
      '@timestamp': '2024-05-01T10:00:00.123456789Z',
      ecs: { version: '9.4.0' },
      event: {
        kind: 'event',
        category: ['authentication'],
        type: ['start'],
        dataset: 'cloudflare_access.access_requests',
        action: 'login',
        outcome: 'success',
        id: '187d944c61940c77',
      },
      user: { email: 'alice@example.com', id: '166befbb-00e3-5e20-bd6e-27245723949f' },
      source: { ip: '198.51.100.7', geo: { country_iso_code: 'US' } },
      client: { ip: '198.51.100.7', geo: { country_iso_code: 'US' } },
      related: { user: ['alice@example.com', '166befbb-00e3-5e20-bd6e-27245723949f'], ip: ['198.51.100.7'] },
      url: { original: 'wiki.example.com/admin', domain: 'wiki.example.com', path: '/admin' },
      observer: { vendor: 'Cloudflare', product: 'Access', type: 'zero-trust' },
      cloud: { provider: 'cloudflare', account: { id: ACCOUNT } },
      cloudflare: {
        access: {
          app_uid: 'df7e2w5f-02b7-4d9d-af26-8d1988fca630',
          app_name: 'Wiki',
          app_type: 'self_hosted',
          allowed: true,
          connection: 'okta',
        },
      },
    });
  });

  it('event.type follows the action: login and sso start a session, logout ends it, others are info', () => {
    const typeOf = (action: unknown) => (ecsDocument({ ...ALLOWED_LOGIN, action }).event as { type: string[] }).type;
    assert.deepEqual(typeOf('login'), ['start']);
    assert.deepEqual(typeOf('sso'), ['start']);
    assert.deepEqual(typeOf('logout'), ['end']);
    assert.deepEqual(typeOf('LOGOUT '), ['end']);
    assert.deepEqual(typeOf('token_refresh'), ['info']);
    assert.deepEqual(typeOf(undefined), ['info']);
  });

  it('purpose justification is event.reason; approvers are related users; the fields stay under cloudflare.access', () => {
    const doc = ecsDocument({
      ...DENIED_IPV6,
      user_id: 'u-1',
      purpose_justification_response: 'INC-42: on call',
      temporary_access_approvers: ['bob@example.com', 'mallory@example.net', ''],
      temporary_access_duration: 3600,
    });
    assert.equal((doc.event as Record<string, unknown>).reason, 'INC-42: on call');
    assert.deepEqual(doc.related, {
      user: ['mallory@example.net', 'u-1', 'bob@example.com'],
      ip: ['2001:db8::1'],
    });
    const access = (doc.cloudflare as { access: Record<string, unknown> }).access;
    assert.equal(access.purpose_justification_response, 'INC-42: on call');
    assert.deepEqual(access.temporary_access_approvers, ['bob@example.com', 'mallory@example.net', '']);
    assert.equal(access.temporary_access_duration, 3600);
    assert.equal((ecsDocument(ALLOWED_LOGIN).event as Record<string, unknown>).reason, undefined);
  });

  it('a country that is not a two-letter code stays under cloudflare.access', () => {
    const doc = ecsDocument({ ...ALLOWED_LOGIN, country: 'not a country' });
    assert.deepEqual(doc.source, { ip: '198.51.100.7' });
    assert.equal((doc.cloudflare as { access: Record<string, unknown> }).access.country, 'not a country');
  });

  it('keeps unknown fields under cloudflare.access and marks failures', () => {
    const doc = ecsDocument(DENIED_IPV6);
    assert.equal((doc.event as Record<string, unknown>).outcome, 'failure');
    assert.equal(doc['@timestamp'], '2024-05-01T10:00:01.000Z');
    assert.deepEqual(doc.cloudflare, { access: { allowed: false, purpose_justification_prompt: 'why?' } });
    assert.equal(doc.cloud, undefined);
  });

  it('keeps values it cannot map instead of dropping them', () => {
    const doc = ecsDocument({ ip_address: 'n/a', created_at: 'soon', allowed: 'maybe' });
    assert.equal(doc.source, undefined);
    assert.equal(doc['@timestamp'], undefined);
    assert.deepEqual(doc.cloudflare, { access: { ip_address: 'n/a', created_at: 'soon', allowed: 'maybe' } });
    assert.equal((doc.event as Record<string, unknown>).outcome, 'unknown');
  });

  it('adds event.original on request and is one line', () => {
    const line = formatEcs({ ...ALLOWED_LOGIN, user_email: 'x\ny' }, {}, { includeOriginal: true });
    assert.ok(!line.includes('\n'));
    const doc = JSON.parse(line) as { event: { original: string } };
    assert.deepEqual(JSON.parse(doc.event.original), { ...ALLOWED_LOGIN, user_email: 'x\ny' });
  });
});
