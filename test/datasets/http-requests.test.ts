/**
 * HTTP request logs as Logpush pushes them (fields as in Cloudflare's `http_requests` dataset
 * docs), in every timestamp_format, judged by the strict CEF and RFC 5424 parsers.
 */
import assert from 'node:assert/strict';
import { DEFAULT_FORMAT_CONFIG, formatterOptions } from '../../src/config/formatter.js';
import { recordFormatter } from '../../src/datasets/formatters.js';
import { httpRequests } from '../../src/datasets/http-requests/index.js';
import type { HttpRequestEvent } from '../../src/datasets/http-requests/event.js';
import { parseCef } from '../support/cef-parser.js';
import { parseRfc5424 } from '../support/rfc5424-parser.js';

const options = { ...formatterOptions(DEFAULT_FORMAT_CONFIG, { hostname: 'h', app_name: 'cf-access' }) };
const REQUEST: HttpRequestEvent = {
  ClientIP: '203.0.113.9',
  ClientRequestHost: 'wiki.example.com',
  ClientRequestMethod: 'GET',
  ClientRequestURI: '/admin/users?page=2',
  ClientRequestUserAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0',
  ClientRequestBytes: 812,
  ClientCountry: 'de',
  EdgeStartTimestamp: '2024-05-01T10:00:00.123456789Z',
  EdgeEndTimestamp: '2024-05-01T10:00:00.223Z',
  EdgeResponseStatus: 403,
  EdgeResponseBytes: 1432,
  RayID: '8f1e2d3c4b5a6978',
  RequestHeaders: { 'cf-access-user': 'alice@example.com' },
  ZoneName: 'example.com',
};
const cef = (event: HttpRequestEvent) =>
  new Map(parseCef(recordFormatter(httpRequests, 'cef', options)(event, {})).extension);

describe('datasets/http-requests: mappings', () => {
  it('CEF: Cloudflare|HTTP, the request in the dictionary keys, suser from cf-access-user', () => {
    const parsed = parseCef(recordFormatter(httpRequests, 'cef', options)(REQUEST, {}));
    assert.deepEqual(parsed.header.slice(0, 2), ['Cloudflare', 'HTTP']);
    assert.equal(parsed.header[3], 'http-403');
    assert.equal(parsed.header[4], 'HTTP GET 403');
    assert.equal(parsed.header[5], '6', 'a refused request has the denied severity');
    assert.deepEqual(Object.fromEntries(parsed.extension), {
      rt: '1714557600123',
      src: '203.0.113.9',
      requestMethod: 'GET',
      request: 'wiki.example.com/admin/users?page=2',
      dhost: 'wiki.example.com',
      requestClientApplication: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0',
      suser: 'alice@example.com',
      outcome: 'failure',
      cn1: '403',
      cn1Label: 'HTTP Status',
      externalId: '8f1e2d3c4b5a6978',
      in: '812',
      out: '1432',
      cs3: 'de',
      cs3Label: 'Country',
    });
  });

  it('the same rt in every timestamp_format; IPv6 in c6a2; hostile values stay one valid record', () => {
    for (const ts of [
      '1714557600123456789',
      1714557600123,
      '2024-05-01T10:00:00.123Z',
      '2024-05-01T10:00:00.123456789Z',
    ]) {
      assert.equal(cef({ ...REQUEST, EdgeStartTimestamp: ts }).get('rt'), '1714557600123', String(ts));
    }
    assert.equal(cef({ ...REQUEST, EdgeStartTimestamp: 1714557600 }).get('rt'), '1714557600000');
    const v6 = cef({ ...REQUEST, ClientIP: '2001:db8::7' });
    assert.equal(v6.get('c6a2'), '2001:db8::7');
    assert.equal(v6.has('src'), false);
    const hostile = cef({
      ...REQUEST,
      ClientRequestURI: '/a=b\nc\\d',
      RequestHeaders: { 'CF-Access-User': 'x=y\r\nz' },
    });
    assert.equal(hostile.get('request'), 'wiki.example.com/a=b\nc\\d');
    assert.equal(hostile.get('suser'), 'x=y\r\nz');
    const bare = cef({ RayID: 'r1' });
    assert.equal(bare.get('externalId'), 'r1');
    assert.equal(bare.has('outcome'), false);
  });

  it('ECS: web/access, http.*, url.*, source.* and client.*, related.*, user.email, user_agent.original, the rest under cloudflare.http_requests', () => {
    const doc = JSON.parse(recordFormatter(httpRequests, 'ecs', options)(REQUEST, {})) as Record<string, unknown>;
    assert.equal(doc['@timestamp'], '2024-05-01T10:00:00.123456789Z');
    assert.deepEqual(doc.event, {
      kind: 'event',
      category: ['web'],
      type: ['access'],
      dataset: 'cloudflare_access.http_requests',
      outcome: 'failure',
      id: '8f1e2d3c4b5a6978',
    });
    assert.deepEqual(doc.http, { request: { method: 'GET', bytes: 812 }, response: { status_code: 403, bytes: 1432 } });
    assert.deepEqual(doc.url, {
      domain: 'wiki.example.com',
      original: '/admin/users?page=2',
      path: '/admin/users',
      query: 'page=2',
    });
    assert.deepEqual(doc.source, { ip: '203.0.113.9', geo: { country_iso_code: 'DE' } });
    assert.deepEqual(doc.client, doc.source);
    assert.deepEqual(doc.related, { user: ['alice@example.com'], ip: ['203.0.113.9'] });
    assert.deepEqual(doc.user, { email: 'alice@example.com' });
    assert.deepEqual(doc.user_agent, { original: REQUEST.ClientRequestUserAgent });
    assert.deepEqual(doc.cloudflare, {
      http_requests: {
        EdgeEndTimestamp: REQUEST.EdgeEndTimestamp,
        RequestHeaders: REQUEST.RequestHeaders,
        ZoneName: 'example.com',
      },
    });
  });

  it('RFC 5424: the edge time, the method as MSGID, the cfhttp SD element; HEC sourcetypes of its own', () => {
    const line = recordFormatter(
      httpRequests,
      'rfc5424',
      { ...options, syslog: { ...options.syslog, structuredData: true } },
      'json',
    )({ ...REQUEST, EdgeStartTimestamp: 1714557600 }, {});
    const parsed = parseRfc5424(line);
    assert.equal(parsed.timestamp, '2024-05-01T10:00:00Z');
    assert.equal(parsed.msgId, 'GET');
    assert.match(
      line,
      /\[cfhttp@32473 RayID="8f1e2d3c4b5a6978" ClientIP="203\.0\.113\.9" .*cf_access_user="alice@example\.com"\]/,
    );
    assert.equal(parsed.pri, 16 * 8 + 4, 'a refused request has the denied severity');
    assert.deepEqual(
      ['json', 'cef', 'ecs'].map((f) => httpRequests.sourcetype(f as 'json')),
      [
        'cf_access_shipper:http_requests:json',
        'cf_access_shipper:http_requests:cef',
        'cf_access_shipper:http_requests:ecs',
      ],
    );
  });
});
