/**
 * Every ECS document the shipper writes, judged by Elastic's own field table (`@elastic/ecs`):
 * converted fixtures, generated events, pushed records and hostile events of both datasets.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { DEFAULT_FORMAT_CONFIG, formatterOptions } from '../../src/config/formatter.js';
import { accessRequests } from '../../src/datasets/access-requests/index.js';
import type { Dataset } from '../../src/datasets/dataset.js';
import { recordFormatter } from '../../src/datasets/formatters.js';
import { httpRequests } from '../../src/datasets/http-requests/index.js';
import { ECS_VERSION } from '../../src/format/ecs.js';
import type { EventRecord } from '../../src/format/record.js';
import { SAMPLE_HTTP_REQUEST } from '../support/ecs-template.js';
import { type EcsProblem, ECS_TABLE_VERSION, validateEcs } from '../support/ecs-validator.js';
import { makeEvent, prng } from '../support/event-factory.js';
import { ACCOUNT, ALLOWED_LOGIN, DENIED_IPV6 } from '../support/sample-events.js';

const CUSTOM = { customNamespaces: ['cloudflare'] };
const withOriginal = { ...DEFAULT_FORMAT_CONFIG, ecs: { include_original: true } };

/** The documents one event becomes (with and without event.original, with and without an account). */
function documents(dataset: Dataset, event: EventRecord): Record<string, unknown>[] {
  const docs: Record<string, unknown>[] = [];
  for (const config of [DEFAULT_FORMAT_CONFIG, withOriginal]) {
    const format = recordFormatter(dataset, 'ecs', formatterOptions(config, { hostname: 'h' }));
    for (const accountId of [undefined, ACCOUNT])
      docs.push(JSON.parse(format(event, accountId === undefined ? {} : { accountId })) as Record<string, unknown>);
  }
  return docs;
}

function problemsOf(dataset: Dataset, events: readonly EventRecord[]): (EcsProblem & { event: number })[] {
  const found: (EcsProblem & { event: number })[] = [];
  events.forEach((event, index) => {
    for (const doc of documents(dataset, event))
      for (const problem of validateEcs(doc, CUSTOM)) found.push({ ...problem, event: index });
  });
  return found;
}

const fixtures = (): EventRecord[] =>
  readFileSync(new URL('../fixtures/sample-events.ndjson', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as EventRecord);

const HTTP_REQUEST: EventRecord = { ...SAMPLE_HTTP_REQUEST, EdgeEndTimestamp: 1714557600223456768 };

/** Values of every kind a field can hold when a peer or an API change sends something else. */
const hostileValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('', ' ', '\n', 'n/a', '::1', '999.1.1.1', 'null', '2024-13-40T99:99:99Z', 'ZZ', 'xx', 't1'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string(), { maxKeys: 3 }),
);

/** An event with some of `fields` set to hostile values, and unknown fields beside them. */
const hostileEvent = (fields: readonly string[], base: EventRecord) =>
  fc
    .tuple(
      fc.dictionary(fc.constantFrom(...fields), hostileValue),
      fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), hostileValue, { maxKeys: 2 }),
    )
    .map(([known, unknown]) => ({ ...unknown, ...base, ...known }));

const ACCESS_FIELDS = [
  ...Object.keys(ALLOWED_LOGIN),
  'purpose_justification_prompt',
  'purpose_justification_response',
  'temporary_access_approvers',
  'temporary_access_duration',
];

describe('ECS validated against @elastic/ecs', () => {
  it('documents say the ECS version of the table they are checked against', () => {
    assert.equal(ECS_VERSION, ECS_TABLE_VERSION);
  });

  it('access_requests: fixtures, samples and 2,000 generated events have no unknown field and no type error', () => {
    const rand = prng(13);
    const generated = Array.from({ length: 2000 }, (_, i) =>
      makeEvent(rand, { atNs: 1714557600_000_000_000n + BigInt(i) * 1_000_000_000n, digits: i % 10 }),
    );
    const events = [ALLOWED_LOGIN, DENIED_IPV6, ...fixtures(), ...generated];
    const problems = problemsOf(accessRequests, events);
    console.log(`      access_requests: ${events.length * 4} documents, ${problems.length} problems`);
    assert.deepEqual(problems, []);
  });

  it('access_requests pushed by Logpush (PascalCase) are as valid as polled ones', () => {
    const pushed = accessRequests.fromPush?.({
      Action: 'logout',
      Allowed: true,
      AppDomain: 'wiki.example.com',
      AppUUID: 'df7e2w5f-02b7-4d9d-af26-8d1988fca630',
      Connection: 'okta',
      Country: 'us',
      CreatedAt: 1714557600123456768,
      Email: 'alice@example.com',
      IPAddress: '198.51.100.7',
      PurposeJustificationPrompt: '',
      PurposeJustificationResponse: '',
      RayID: '187d944c61940c77',
      TemporaryAccessApprovers: ['bob@example.com'],
      TemporaryAccessDuration: 3600,
      UserUID: '166befbb-00e3-5e20-bd6e-27245723949f',
    });
    assert.ok(pushed);
    assert.deepEqual(problemsOf(accessRequests, [pushed]), []);
  });

  it('http_requests: a real-shaped request in every timestamp format', () => {
    const times = [1714557600123456768, 1714557600, '2024-05-01T10:00:00Z', '2024-05-01T10:00:00.123Z'];
    const events = times.map((EdgeStartTimestamp) => ({ ...HTTP_REQUEST, EdgeStartTimestamp }));
    assert.deepEqual(problemsOf(httpRequests, [...events, { RayID: 'x' }]), []);
  });

  it('hostile events of both datasets: 0 unknown fields, 0 type errors', () => {
    let documentsChecked = 0;
    for (const [dataset, fields, base] of [
      [accessRequests, ACCESS_FIELDS, {}],
      [accessRequests, ['ip_address', 'country', 'action', 'user_email'], ALLOWED_LOGIN],
      [httpRequests, Object.keys(HTTP_REQUEST), {}],
      [httpRequests, ['ClientIP', 'RequestHeaders', 'EdgeResponseStatus', 'ClientCountry'], HTTP_REQUEST],
    ] as const) {
      fc.assert(
        fc.property(hostileEvent(fields, base), (event) => {
          documentsChecked += 4;
          assert.deepEqual(problemsOf(dataset, [event]), []);
        }),
        { numRuns: 300 },
      );
    }
    console.log(`      hostile: ${documentsChecked} documents, 0 problems`);
  });

  it('the validator fails a document that is wrong in each of the ways it checks', () => {
    const problems = validateEcs(
      {
        '@timestamp': 'yesterday',
        event: { kind: 'signal?', category: ['authentication'], type: ['access', 'start'], outcome: 'ok' },
        source: { ip: 'n/a', port: '443', geo: { country_iso_code: ['US'] } },
        related: { user: 'alice' },
        user: { mail: 'alice@example.com' },
        http: { response: { status_code: 200.5 } },
        cloudflare: { anything: { goes: true } },
      },
      CUSTOM,
    ).map((p) => p.field);
    assert.deepEqual(problems.sort(), [
      '@timestamp',
      'event.kind',
      'event.outcome',
      'event.type',
      'http.response.status_code',
      'related.user',
      'source.geo.country_iso_code',
      'source.ip',
      'source.port',
      'user.mail',
    ]);
    assert.deepEqual(
      validateEcs({ event: {} }, { customNamespaces: ['event'] })[0]?.problem,
      'custom namespace collides with an ECS field set',
    );
  });
});
