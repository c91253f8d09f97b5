/**
 * The Splunk add-on without Splunk: its .conf files against the keys Splunk's .spec files allow,
 * the package against AppInspect-style structure rules, and its field logic (REPORT, FIELDALIAS,
 * EVAL, event types, tags) run over the shipper's real output in every format and dataset,
 * proving each CIM field gets the right value.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_FORMAT_CONFIG, formatterOptions } from '../../src/config/formatter.js';
import { accessRequests } from '../../src/datasets/access-requests/index.js';
import type { Dataset } from '../../src/datasets/dataset.js';
import { recordFormatter } from '../../src/datasets/formatters.js';
import { httpRequests } from '../../src/datasets/http-requests/index.js';
import type { EventRecord } from '../../src/format/record.js';
import { ACCOUNT, ALLOWED_LOGIN, DENIED_IPV6 } from '../support/sample-events.js';
import { parseConf, unknownKeys } from '../support/splunk-conf.js';
import { evaluate } from '../support/splunk-eval.js';
import { type AddOn, matches, searchTimeFields } from '../support/splunk-search-time.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const APP = 'TA-cf-access-shipper';
const appDir = join(root, 'integrations', 'splunk', APP);
const read = (path: string) => readFileSync(join(appDir, path), 'utf8');
const conf = (path: string) => parseConf(read(path), path);
const addOn: AddOn = {
  props: conf('default/props.conf'),
  transforms: conf('default/transforms.conf'),
  eventtypes: conf('default/eventtypes.conf'),
  tags: conf('default/tags.conf'),
};
const FORMATS = ['json', 'ecs', 'cef'] as const;
const options = formatterOptions(DEFAULT_FORMAT_CONFIG, { hostname: 'h' });

/** What Splunk makes of one event the HEC output sends: the record's text under its sourcetype. */
function cim(dataset: Dataset, format: (typeof FORMATS)[number], event: EventRecord): Record<string, string> {
  const raw = recordFormatter(dataset, format, options)(event, { accountId: ACCOUNT });
  const fields = searchTimeFields(addOn, dataset.sourcetype(format), raw);
  return Object.fromEntries([...fields].map(([k, v]) => [k, v.join('|')]));
}

const pick = (fields: Record<string, string>, names: readonly string[]) =>
  Object.fromEntries(names.filter((n) => fields[n] !== undefined).map((n) => [n, fields[n]]));

const AUTH_FIELDS = [
  'action',
  'app',
  'dest',
  'src',
  'user',
  'user_id',
  'authentication_method',
  'signature',
  'vendor_account',
  'reason',
  'vendor_product',
  'tag',
  'eventtype',
] as const;

describe('integrations/splunk: the TA-cf-access-shipper add-on', () => {
  it('its .conf files parse and use only keys the .spec files define', () => {
    for (const file of readdirSync(join(appDir, 'default')))
      assert.deepEqual(unknownKeys(file, conf(`default/${file}`)), [], file);
    assert.deepEqual(unknownKeys('default.meta', conf('metadata/default.meta')), []);
    for (const [, tags] of addOn.tags) for (const [, state] of tags) assert.match(state, /^(enabled|disabled)$/);
    assert.throws(() => parseConf('[x]\nKV_MODE = json\nKV_MODE = none\n'), /set twice/);
    assert.deepEqual(unknownKeys('props.conf', parseConf('[x]\nKV_MOD = json\nEVAL- = 1\n')), [
      '[x] KV_MOD',
      '[x] EVAL-',
    ]);
  });

  it('every REPORT names a transform, every EVAL parses, every event type search parses', () => {
    for (const [, stanza] of addOn.props)
      for (const [key, value] of stanza) {
        if (key.startsWith('REPORT-'))
          for (const name of value.split(',')) assert.ok(addOn.transforms.get(name.trim())?.get('REGEX'), name);
        if (key.startsWith('EVAL-')) evaluate(value, new Map());
      }
    for (const [, stanza] of addOn.eventtypes) matches(stanza.get('search') ?? '', new Map());
  });

  it('app.conf and the package follow AppInspect: version = package.json, id, is_configured = 0, no dot-files', () => {
    const app = conf('default/app.conf');
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    assert.equal(app.get('launcher')?.get('version'), version);
    assert.equal(app.get('package')?.get('id'), APP);
    assert.equal(app.get('install')?.get('is_configured'), '0');
    assert.equal(app.get('ui')?.get('is_visible'), 'false');
    const archive = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'package-splunk.ts')], {
      encoding: 'utf8',
    }).trim();
    assert.ok(archive.endsWith(`${APP}-${version}.tgz`), archive);
    const entries = execFileSync('tar', ['-tvzf', archive], { encoding: 'utf8' }).trim().split('\n');
    const names = entries.map((line) => line.split(/\s+/).slice(5).join(' '));
    for (const required of ['default/app.conf', 'default/props.conf', 'metadata/default.meta', 'README.md', 'LICENSE'])
      assert.ok(names.includes(`${APP}/${required}`), `${required} in the package`);
    assert.ok(
      names.every((n) => n.startsWith(`${APP}/`)),
      'one top folder named as the app id',
    );
    assert.deepEqual(
      names.filter((n) => n.split('/').some((part) => part.startsWith('.'))),
      [],
    );
    for (const line of entries) {
      assert.match(line, /^(-rw-r--r--|drwxr-xr-x) 0\/0 /, line);
    }
  });

  it('the HEC output’s default sourcetypes are the add-on’s, one per dataset and format, none of them cloudflare:access', () => {
    for (const dataset of [accessRequests, httpRequests])
      for (const format of FORMATS) {
        const sourcetype = dataset.sourcetype(format);
        assert.ok(addOn.props.has(sourcetype), sourcetype);
        assert.ok(!sourcetype.startsWith('cloudflare:'), sourcetype);
      }
  });

  for (const format of FORMATS) {
    it(`CIM Authentication from ${format}: an allowed login, a denied one, fields and tag`, () => {
      const allowed = cim(accessRequests, format, ALLOWED_LOGIN);
      assert.deepEqual(pick(allowed, AUTH_FIELDS), {
        action: 'success',
        app: 'Wiki',
        dest: 'wiki.example.com',
        src: '198.51.100.7',
        user: 'alice@example.com',
        user_id: '166befbb-00e3-5e20-bd6e-27245723949f',
        authentication_method: 'okta',
        signature: 'login',
        vendor_account: ACCOUNT,
        vendor_product: 'Cloudflare Access',
        tag: 'authentication',
        eventtype: 'cf_access_authentication',
      });
      const denied = cim(accessRequests, format, DENIED_IPV6);
      assert.deepEqual(pick(denied, ['action', 'src', 'user', 'app', 'dest', 'signature', 'tag']), {
        action: 'failure',
        src: '2001:db8::1',
        user: 'mallory@example.net',
        app: 'vpn.example.com',
        dest: 'vpn.example.com',
        signature: 'login',
        tag: 'authentication',
      });
    });

    it(`CIM from ${format}: logouts are not authentication attempts; SSO is; reason, escapes, unreadable allowed`, () => {
      const logout = cim(accessRequests, format, { ...ALLOWED_LOGIN, action: 'logout' });
      assert.equal(logout.eventtype, 'cf_access_logout');
      assert.equal(logout.tag, undefined);
      assert.equal(cim(accessRequests, format, { ...ALLOWED_LOGIN, action: 'sso' }).tag, 'authentication');
      const justified = cim(accessRequests, format, {
        ...ALLOWED_LOGIN,
        app_name: 'Admin = Panel | "ops"',
        user_email: 'a=b@example.com',
        purpose_justification_response: 'INC-42: on call = "yes" \\ urgent',
      });
      assert.equal(justified.reason, 'INC-42: on call = "yes" \\ urgent');
      assert.equal(justified.app, 'Admin = Panel | "ops"');
      assert.equal(justified.user, 'a=b@example.com');
      assert.equal(cim(accessRequests, format, { ...ALLOWED_LOGIN, allowed: 'maybe' }).action, 'failure');
      assert.equal(cim(accessRequests, format, { ...ALLOWED_LOGIN, allowed: undefined }).action, 'failure');
    });

    it(`CIM Web from ${format}: a per-request log with the Access identity`, () => {
      const request: EventRecord = {
        ClientIP: '203.0.113.9',
        ClientRequestHost: 'wiki.example.com',
        ClientRequestMethod: 'POST',
        ClientRequestURI: '/login?next=%2Fadmin',
        ClientRequestUserAgent: 'curl/8.5.0 (x=y)',
        ClientRequestBytes: 812,
        EdgeStartTimestamp: 1714557600123456768,
        EdgeResponseStatus: 403,
        EdgeResponseBytes: 1432,
        RayID: '8f1e2d3c4b5a6978',
        RequestHeaders: { 'cf-access-user': 'alice@example.com' },
      };
      const web = [
        'action',
        'dest',
        'site',
        'src',
        'user',
        'http_method',
        'http_user_agent',
        'status',
        'url',
        'uri_path',
        'uri_query',
        'bytes',
        'bytes_in',
        'bytes_out',
        'vendor_product',
        'tag',
      ];
      assert.deepEqual(pick(cim(httpRequests, format, request), web), {
        action: 'blocked',
        dest: 'wiki.example.com',
        site: 'wiki.example.com',
        src: '203.0.113.9',
        user: 'alice@example.com',
        http_method: 'POST',
        http_user_agent: 'curl/8.5.0 (x=y)',
        status: '403',
        url: 'wiki.example.com/login?next=%2Fadmin',
        uri_path: '/login',
        uri_query: 'next=%2Fadmin',
        bytes: '2244',
        bytes_in: '812',
        bytes_out: '1432',
        vendor_product: 'Cloudflare',
        tag: 'web',
      });
      const allowed = cim(httpRequests, format, { ...request, ClientIP: '2001:db8::9', EdgeResponseStatus: 200 });
      assert.equal(allowed.action, 'allowed');
      assert.equal(allowed.src, '2001:db8::9');
    });
  }

  it('the evaluator is Splunk-strict where it matters: a wrong rule gives a wrong value, not a pass', () => {
    const fields = new Map([
      ['allowed', ['false']],
      ['n', ['401']],
    ]);
    assert.equal(evaluate('if(allowed=="true", "success", "failure")', fields), 'failure');
    assert.equal(evaluate('if(missing=="true", "success", "failure")', fields), 'failure');
    assert.equal(evaluate('n == 401 AND n + 1 == 402', fields), true);
    assert.equal(evaluate('"a" . missing', fields), null);
    assert.equal(evaluate('replace("a\\\\=b", "\\\\\\\\([\\\\\\\\=])", "\\\\1")', fields), 'a=b');
    assert.throws(() => evaluate('nosuchfunction(1)', fields), /not known/);
    assert.equal(matches('NOT signature="logout"', new Map()), true);
    assert.equal(matches('signature!="logout"', new Map()), false);
    assert.equal(
      matches(
        'sourcetype="cf_access_shipper:access_requests:*"',
        new Map([['sourcetype', ['CF_ACCESS_SHIPPER:access_requests:json']]]),
      ),
      true,
    );
  });
});
