/** Realistic Access events for formatter and pipeline tests. */
import type { AccessEvent } from '../../src/datasets/access-requests/event.js';

export const ALLOWED_LOGIN: AccessEvent = {
  user_email: 'alice@example.com',
  ip_address: '198.51.100.7',
  app_uid: 'df7e2w5f-02b7-4d9d-af26-8d1988fca630',
  app_domain: 'wiki.example.com/admin',
  app_name: 'Wiki',
  app_type: 'self_hosted',
  action: 'login',
  allowed: true,
  created_at: '2024-05-01T10:00:00.123456789Z',
  connection: 'okta',
  country: 'us',
  ray_id: '187d944c61940c77',
  user_id: '166befbb-00e3-5e20-bd6e-27245723949f',
};

export const DENIED_IPV6: AccessEvent = {
  user_email: 'mallory@example.net',
  ip_address: '2001:db8::1',
  app_domain: 'vpn.example.com',
  action: 'login',
  allowed: false,
  created_at: '2024-05-01T10:00:01Z',
  country: 'ru',
  ray_id: '187d944c61940c78',
  purpose_justification_prompt: 'why?',
};

export const ACCOUNT = '0123456789abcdef0123456789abcdef';
