/**
 * Deterministic, realistic Access events for the simulator, benches and the demo. A seeded PRNG
 * makes every run produce the same events for the same seed.
 */
import type { AccessEvent } from '../../src/datasets/access-requests/event.js';

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    // mulberry32
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERS = [
  'alice',
  'bob',
  'carol',
  'dave',
  'erin',
  'frank',
  'grace',
  'heidi',
  'ivan',
  'judy',
  'mallory',
  'oscar',
  'peggy',
  'trent',
  'victor',
  'walter',
];
const APPS = [
  { name: 'Wiki', domain: 'wiki.example.com', type: 'self_hosted' },
  { name: 'Grafana', domain: 'grafana.example.com/d', type: 'self_hosted' },
  { name: 'GitLab', domain: 'git.example.com', type: 'self_hosted' },
  { name: 'Salesforce', domain: 'example.my.salesforce.com', type: 'saas' },
  { name: 'SSH bastion', domain: 'ssh.example.com', type: 'ssh' },
  { name: 'Admin = Panel | "ops"', domain: 'admin.example.com/panel', type: 'self_hosted' },
];
const CONNECTIONS = ['okta', 'azureAD', 'google', 'onetimepin', 'github'];
const COUNTRIES = ['us', 'de', 'gb', 'fr', 'jp', 'br', 'in', 'ru', 'cn', 'au'];
const ACTIONS = ['login', 'login', 'login', 'logout', 'sso'];

function hex(rand: () => number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += Math.floor(rand() * 16).toString(16);
  return out;
}

function uuid(rand: () => number): string {
  const h = hex(rand, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
}

/** RFC 3339 with `digits` fractional digits (0–9) for an instant in nanoseconds. */
export function rfc3339(epochNs: bigint, digits = 6): string {
  if (epochNs < 0n) {
    const ms = Number(epochNs / 1_000_000n);
    const frac = String(((epochNs % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n)
      .padStart(9, '0')
      .slice(0, digits);
    const base = new Date(ms).toISOString().slice(0, 19);
    return digits === 0 ? `${base}Z` : `${base}.${frac}Z`;
  }
  const seconds = epochNs / 1_000_000_000n;
  const nanos = Number(epochNs - seconds * 1_000_000_000n);
  // Benches ask for a million times in order: the text of the last second is kept.
  if (seconds !== lastSecond) {
    lastSecond = seconds;
    lastSecondText = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  }
  if (digits === 0) return `${lastSecondText}Z`;
  return `${lastSecondText}.${String(1_000_000_000 + nanos).slice(1, 1 + digits)}Z`;
}

let lastSecond = -1n;
let lastSecondText = '';

export interface EventOptions {
  /** created_at of the event, in nanoseconds since the epoch. */
  atNs: bigint;
  /** Fractional digits of created_at (0–9); the API has been seen with 5. */
  digits?: number;
  rayId?: string;
}

export function makeEvent(rand: () => number, options: EventOptions): AccessEvent {
  const user = USERS[Math.floor(rand() * USERS.length)]!;
  const app = APPS[Math.floor(rand() * APPS.length)]!;
  const allowed = rand() > 0.15;
  const v6 = rand() < 0.2;
  const ip = v6
    ? `2001:db8:${hex(rand, 4)}::${hex(rand, 3)}`
    : `${198 + Math.floor(rand() * 2)}.${51 + Math.floor(rand() * 50)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`;
  // Purpose justification and temporary access are set on a few applications only.
  const justified = rand() < 0.1;
  const temporary = rand() < 0.05;
  return {
    user_email: `${user}@example.com`,
    ip_address: ip,
    app_uid: uuid(rand),
    app_domain: app.domain,
    app_name: app.name,
    app_type: app.type,
    action: ACTIONS[Math.floor(rand() * ACTIONS.length)]!,
    allowed,
    created_at: rfc3339(options.atNs, options.digits ?? 6),
    connection: CONNECTIONS[Math.floor(rand() * CONNECTIONS.length)]!,
    country: COUNTRIES[Math.floor(rand() * COUNTRIES.length)]!,
    ray_id: options.rayId ?? hex(rand, 16),
    user_id: uuid(rand),
    purpose_justification_prompt: justified ? 'Why do you need access to this application?' : '',
    purpose_justification_response: justified ? `ticket INC-${Math.floor(rand() * 100000)}: on-call = "yes"` : '',
    temporary_access_approvers: temporary
      ? [`${USERS[Math.floor(rand() * USERS.length)]!}@example.com`, 'security@example.com']
      : [],
    temporary_access_duration: temporary ? 3600 : 0,
  };
}
