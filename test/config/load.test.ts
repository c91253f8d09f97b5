import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, parseConfigText, resolveConfigPath } from '../../src/config/load.js';
import { parseDuration, formatDuration } from '../../src/config/duration.js';
import { ConfigError } from '../../src/errors.js';

const ACCOUNT = '0123456789abcdef0123456789abcdef';
const minimal = (extra = '') => `cloudflare:\n  api_token: tok_secret_value\n  account_id: ${ACCOUNT}\n${extra}outputs:\n  - { name: console, type: stdout }\n`;

function configError(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfigText(text, 'test.yaml', env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.exitCode, 78);
    return error;
  }
  assert.fail('expected a configuration error');
}

describe('config/load', () => {
  it('fills defaults and normalizes account_id into accounts', () => {
    const { config, secrets } = parseConfigText(minimal(), 't', {});
    assert.deepEqual(config.cloudflare.accounts, [{ id: ACCOUNT, retention: 86_400_000 }]);
    assert.deepEqual(config.daemon, { shutdown_timeout: 30_000, alert_lag: 1_800_000 });
    assert.equal(config.cloudflare.page_size, 1000);
    assert.equal(config.cloudflare.request_timeout, 30_000);
    assert.deepEqual(config.cloudflare.rate_limit, { requests: 900, per: 300_000, catch_up_percent: 25 });
    assert.equal(config.cloudflare.base_url, 'https://api.cloudflare.com/client/v4');
    assert.deepEqual(config.poll, { schedule: '*/1 * * * *', settle: 120_000, overlap: 600_000, sweep_every: 300_000, slow_output_wait: 30_000, initial_lookback: 86_400_000 });
    assert.equal(config.state.path, './data/state.json');
    assert.deepEqual(config.format.cef.severity, { allowed: 3, denied: 6 });
    assert.deepEqual(config.format.syslog.severity, { allowed: 6, denied: 4 });
    assert.deepEqual(config.outputs[0], { name: 'console', type: 'stdout', format: 'json' });
    assert.deepEqual(secrets, ['tok_secret_value']);
  });

  it('accepts the example file with every output type', () => {
    const example = readFileSync(new URL('../../config/cf-access-shipper.example.yaml', import.meta.url), 'utf8');
    // Uncomment the splunk_hec, elasticsearch and syslog examples too.
    const uncommented = example.replace(/^ {2}# (- name: (splunk|elastic|siem)[\s\S]*?)(?=\n\n)/gm, (block) => block.replace(/^ {2}# ?/gm, '  '));
    assert.match(uncommented, /^ {2}- name: splunk/m);
    const { config } = parseConfigText(uncommented, 'example', { CF_API_TOKEN: 'x'.repeat(40), SPLUNK_HEC_TOKEN: 'y'.repeat(36), ES_API_KEY: 'a2V5OnNlY3JldA==' });
    assert.deepEqual(config.outputs.map((o) => o.type), ['stdout', 'file', 'splunk_hec', 'elasticsearch', 'syslog']);
    const es = config.outputs[3]!;
    assert.ok(es.type === 'elasticsearch');
    assert.deepEqual(es.batch, { max_events: 1000, max_bytes: 5 * 1024 * 1024 });
    assert.equal(es.api_key, 'a2V5OnNlY3JldA==');
    const hec = config.outputs[2]!;
    assert.ok(hec.type === 'splunk_hec');
    assert.deepEqual(hec.batch, { max_events: 500, max_bytes: 1024 * 1024, max_wait: 1000 });
    assert.equal(hec.ack, 'auto');
    const syslog = config.outputs[4]!;
    assert.ok(syslog.type === 'syslog');
    assert.equal(syslog.transport, 'tls');
    assert.equal(syslog.facility, 16);
    assert.equal(syslog.tls.servername, 'siem.example.com');
  });

  it('elasticsearch: names the key of each mistake; the API key is masked', () => {
    const es = (keys: string) =>
      `cloudflare:\n  api_token: tok_secret_value\n  account_id: ${ACCOUNT}\noutputs:\n  - { name: es, type: elasticsearch, url: "https://es:9200"${keys} }\n`;
    assert.match(configError(es(', api_key: k3y-v4lue, username: u, password: p')).message, /outputs\[0\]\.api_key: .*set either api_key or username \+ password/);
    assert.match(configError(es(', username: u')).message, /outputs\[0\]\.password: .*username and password go together/);
    assert.match(configError(es(', data_stream: Logs-X')).message, /outputs\[0\]\.data_stream: .*must be a data stream name/);
    const bad = configError(es(', api_key: k3y-v4lue, concurrency: 99'));
    assert.match(bad.message, /outputs\[0\]\.concurrency/);
    assert.ok(!bad.message.includes('k3y-v4lue'));
  });

  it('substitutes ${VAR}, ${VAR:-default} and $$', () => {
    const { config } = parseConfigText(minimal('state:\n  path: ${DIR:-/var/lib/x}/s$$.json\n').replace('tok_secret_value', '${TOKEN}'), 't', { TOKEN: 'from-env-123' });
    assert.equal(config.cloudflare.api_token, 'from-env-123');
    assert.equal(config.state.path, '/var/lib/x/s$.json');
  });

  it('names an unset ${VAR} and its key path', () => {
    const error = configError(minimal().replace('tok_secret_value', '${CF_API_TOKEN}'));
    assert.match(error.message, /cloudflare\.api_token: environment variable CF_API_TOKEN is not set/);
  });

  it('reports invalid YAML with line and column', () => {
    const error = configError('cloudflare:\n  api_token: x\n   bad: [\n');
    assert.match(error.message, /^test\.yaml:\d+:\d+: invalid YAML/);
  });

  it('rejects unknown keys by path', () => {
    const error = configError(minimal('poll:\n  shedule: "* * * * *"\n'));
    assert.match(error.message, /poll\.shedule: unknown key/);
  });

  it('rejects a missing account id with what to set', () => {
    const error = configError('cloudflare:\n  api_token: abcd\noutputs:\n  - { name: c, type: stdout }\n');
    assert.match(error.message, /cloudflare\.account_id: is missing: set cloudflare\.account_id \(32 hexadecimal characters/);
  });

  it('rejects a page_size of 5000 showing the value and the range', () => {
    const error = configError(minimal().replace('cloudflare:\n', 'cloudflare:\n  page_size: 5000\n'));
    assert.match(error.message, /cloudflare\.page_size: got 5000; must be one of 1, 5, 10, 20, 25, 50, 100, 1000/);
  });

  it('masks secrets in errors', () => {
    const error = configError(minimal().replace('tok_secret_value', '[1, 2]').replace('outputs:\n  - { name: console, type: stdout }', 'outputs:\n  - { name: s, type: splunk_hec, url: "ftp://x", token: 12345678 }'));
    assert.doesNotMatch(error.message, /12345678/);
    assert.match(error.message, /outputs\[0\]\.url: got "ftp:\/\/x"; must be the HEC base URL/);
  });

  it('rejects bad durations, schedules, duplicates and TLS framing', () => {
    const error = configError(
      minimal('poll:\n  settle: 2 minutes\n  schedule: "every minute"\n')
        .replace('outputs:\n  - { name: console, type: stdout }', 'outputs:\n  - { name: a, type: stdout }\n  - { name: a, type: syslog, host: h, transport: tls, framing: lf }'),
    );
    assert.match(error.message, /poll\.settle: got "2 minutes"; must be a duration/);
    assert.match(error.message, /poll\.schedule: got "every minute"; must be a valid cron expression/);
    assert.match(error.message, /outputs\[1\]\.framing: got "lf"; RFC 5425/);
    const dup = configError(minimal().replace('outputs:\n  - { name: console, type: stdout }', 'outputs:\n  - { name: a, type: stdout }\n  - { name: a, type: file, path: x }'));
    assert.match(dup.message, /outputs\[1\]\.name: got "a"; must be unique/);
  });

  it('treats an empty (null) value as not set', () => {
    const { config } = parseConfigText(minimal('state:\n  path:\n'), 't', {});
    assert.equal(config.state.path, './data/state.json');
  });

  it('reads secrets from *_file and reports an unreadable one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'token'), '  file-token-value\n');
    const text = minimal().replace('api_token: tok_secret_value', `api_token_file: ${join(dir, 'token')}`);
    const { config, secrets } = parseConfigText(text, 't', {});
    assert.equal(config.cloudflare.api_token, 'file-token-value');
    assert.deepEqual(secrets, ['file-token-value']);
    const missing = configError(minimal().replace('api_token: tok_secret_value', `api_token_file: ${join(dir, 'nope')}`));
    assert.match(missing.message, /cloudflare\.api_token_file: cannot read .*nope \(ENOENT\)/);
    const both = configError(minimal().replace('api_token: tok_secret_value', `api_token: a\n  api_token_file: ${join(dir, 'token')}`));
    assert.match(both.message, /set either api_token or api_token_file/);
    if (process.getuid?.() !== 0) {
      chmodSync(join(dir, 'token'), 0);
      assert.match(configError(text).message, /EACCES/);
    }
  });

  it('proxy: a URL or none per client, proxy_file, the password redacted; a bad proxy names its key or variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-proxy-'));
    const file = join(dir, 'proxy');
    writeFileSync(file, 'http://svc:S3cret%2Fpw@proxy.corp:3128\n');
    const hec = '  - { name: s, type: splunk_hec, url: "https://splunk:8088", token: hec_token_1, proxy: none }\n';
    const text = `cloudflare:\n  api_token: tok_secret_value\n  account_id: ${ACCOUNT}\n  proxy_file: ${file}\noutputs:\n${hec}`;
    const { config, secrets } = parseConfigText(text, 't', {});
    assert.equal(config.cloudflare.proxy, 'http://svc:S3cret%2Fpw@proxy.corp:3128');
    assert.ok(secrets.includes('S3cret%2Fpw') && secrets.includes('S3cret/pw'), secrets.join(' '));
    assert.ok(!secrets.includes('svc'));
    const bad = configError(minimal('  proxy: socks5://u:pw_secret@proxy:1080\n'));
    assert.match(bad.message, /cloudflare\.proxy: got .*; uses socks5:\/\/, but only http:\/\/ and https:\/\/ proxies are supported \(no SOCKS\) \(or none to use no proxy\)/);
    assert.doesNotMatch(bad.message, /pw_secret/);
    const fromEnv = configError(minimal(), { HTTPS_PROXY: 'http://proxy:3128/path' });
    assert.match(fromEnv.message, /the environment variable HTTPS_PROXY must be only scheme:\/\/\[user:password@\]host\[:port\].*fix or unset it, or set cloudflare\.proxy: none/);
    // The environment is not consulted for a client with its own proxy key.
    assert.doesNotThrow(() => parseConfigText(minimal('  proxy: none\n'), 't', { HTTPS_PROXY: 'socks5://x:1' }));
    assert.ok(parseConfigText(minimal(), 't', { HTTPS_PROXY: 'http://u:Env-Secret-9@p:1' }).secrets.includes('Env-Secret-9'));
  });

  it('push: endpoints with a dataset and a secret (or secret_file), paths unique, the secret never shown', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-push-'));
    writeFileSync(join(dir, 'secret'), 'a-long-logpush-secret-value\n');
    const push = (endpoints: string) => `push:\n  listen: 127.0.0.1:8787\n  endpoints:\n${endpoints}`;
    const { config, secrets } = parseConfigText(
      minimal() + push(`    - { name: http, dataset: http_requests, secret_file: ${join(dir, 'secret')} }\n`),
      't',
      {},
    );
    assert.deepEqual(config.push?.endpoints, [
      { name: 'http', path: '/logpush/http', dataset: 'http_requests', secret_header: 'X-Logpush-Secret', secret: 'a-long-logpush-secret-value' },
    ]);
    assert.equal(config.push.max_concurrent, 4);
    assert.ok(secrets.includes('a-long-logpush-secret-value'));
    const short = configError(minimal() + push('    - { name: http, dataset: http_requests, secret: short-Secret }\n'));
    assert.match(short.message, /push\.endpoints\[0\]\.secret: got "\*\*\*\*" \(secret, masked\); must be at least 16 characters/);
    const twice = configError(
      minimal() +
        push(
          '    - { name: a, path: /in, dataset: http_requests, secret: 0123456789abcdef }\n    - { name: b, path: /in, dataset: access_requests, secret: 0123456789abcdef }\n',
        ),
    );
    assert.match(twice.message, /push\.endpoints\[1\]\.path: .*\/in is used by two endpoints/);
    const dataset = configError(minimal() + push('    - { name: a, dataset: dns_logs, secret: 0123456789abcdef }\n'));
    assert.match(dataset.message, /push\.endpoints\[0\]\.dataset: got "dns_logs"; must be one of: http_requests, access_requests/);
  });

  it('finds the file from --config, then the environment, then the default', () => {
    assert.equal(resolveConfigPath('/a.yaml', { CF_ACCESS_SHIPPER_CONFIG: '/b.yaml' }), '/a.yaml');
    assert.equal(resolveConfigPath(undefined, { CF_ACCESS_SHIPPER_CONFIG: '/b.yaml' }), '/b.yaml');
    assert.match(resolveConfigPath(undefined, {}), /config\/cf-access-shipper\.yaml$/);
    assert.throws(() => loadConfigFile('/nonexistent/x.yaml'), /does not exist; pass --config PATH/);
  });
});

describe('config/duration', () => {
  it('parses and formats', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('7d'), 604_800_000);
    assert.equal(parseDuration('5'), undefined);
    assert.equal(parseDuration('-5s'), undefined);
    assert.equal(formatDuration(5_400_000), '1h30m');
  });
});

describe('config/load numbers', () => {
  it('keeps an account id that looks like a number exactly as written', () => {
    const id = '12345678901234567890123456789e12';
    const { config } = parseConfigText(minimal().replace(ACCOUNT, id).replace('cloudflare:\n', 'cloudflare:\n  page_size: 50\n'), 't', {});
    assert.deepEqual(config.cloudflare.accounts, [{ id, retention: 86_400_000 }]);
    assert.equal(config.cloudflare.page_size, 50);
    const digits = '01234567890123456789012345678901';
    assert.deepEqual(parseConfigText(minimal().replace(ACCOUNT, digits), 't', {}).config.cloudflare.accounts, [{ id: digits, retention: 86_400_000 }]);
  });
});

describe('config defaults used without a config file', () => {
  it('DEFAULT_FORMAT_CONFIG is what the schema fills in', async () => {
    const { DEFAULT_FORMAT_CONFIG } = await import('../../src/config/formatter.js');
    const { formatSection } = await import('../../src/config/schema.js');
    assert.deepEqual(formatSection.parse({}), DEFAULT_FORMAT_CONFIG);
  });
});
