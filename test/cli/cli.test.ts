import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCef } from '../support/cef-parser.js';
import { runCli } from '../support/cli.js';
import { ALLOWED_LOGIN, DENIED_IPV6 } from '../support/sample-events.js';

const ndjson = `${JSON.stringify(ALLOWED_LOGIN)}\n${JSON.stringify(DENIED_IPV6)}\n`;

describe('cli', function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), 'cli-'));

  it('convert: NDJSON on stdin to CEF on stdout', async () => {
    const result = await runCli(['convert', '--format', 'cef'], { input: ndjson });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.equal(parseCef(lines[0]!).header[3], 'login-allowed');
    assert.equal(parseCef(lines[1]!).header[3], 'login-denied');
  });

  it('convert: an API response file to RFC 5424 with the syslog options', async () => {
    const file = join(dir, 'response.json');
    writeFileSync(file, JSON.stringify({ success: true, errors: [], messages: [], result: [ALLOWED_LOGIN] }, null, 2));
    const result = await runCli([
      'convert',
      '--format',
      'rfc5424',
      '--input',
      file,
      '--facility',
      'authpriv',
      '--app-name',
      'cfa',
      '--hostname',
      'h1',
      '--structured-data',
      '--message',
      'json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^<86>1 2024-05-01T10:00:00\.123456Z h1 cfa \d+ login \[cfaccess@32473 action="login" .*\] \{"user_email":"alice@example\.com"/,
    );
  });

  it('convert: malformed lines are reported with their number, skipped, and exit 1', async () => {
    const result = await runCli(['convert', '--format', 'json'], {
      input: `${JSON.stringify(ALLOWED_LOGIN)}\n{oops\n\n${JSON.stringify(DENIED_IPV6)}\n`,
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout.trimEnd().split('\n').length, 2);
    assert.match(result.stderr, /^line 2: skipped: not valid JSON/m);
    assert.match(result.stderr, /converted 2 event\(s\); skipped 1 malformed record\(s\)/);
  });

  it('convert: a usage error exits 2', async () => {
    const bad = await runCli(['convert', '--format', 'xml'], { input: '' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Allowed choices are cef, json, ecs, rfc5424, rfc3164/);
    const facility = await runCli(['convert', '--format', 'rfc3164', '--facility', 'nope'], { input: '' });
    assert.equal(facility.code, 2);
    assert.match(facility.stderr, /--facility must be a facility name/);
    assert.equal((await runCli(['no-such-command'])).code, 2);
  });

  it('convert: a missing input file is a runtime error', async () => {
    const result = await runCli(['convert', '--input', join(dir, 'missing.ndjson')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /ENOENT/);
  });

  it('validate: summary on success, 78 with the key path on error', async () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(
      good,
      'cloudflare:\n  api_token: ${TOKEN}\n  account_id: 0123456789abcdef0123456789abcdef\noutputs:\n  - { name: out, type: file, path: /tmp/x.ndjson, format: cef }\n  - { name: udp, type: syslog, host: 127.0.0.1, transport: udp }\n',
    );
    const ok = await runCli(['validate', '--config', good], { env: { TOKEN: 'sekrit-token-value' } });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /output out: file \/tmp\/x\.ndjson, format cef/);
    assert.match(ok.stdout, /output udp: syslog udp:\/\/127\.0\.0\.1:514, .*fire-and-forget/);
    assert.doesNotMatch(ok.stdout, /sekrit/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'cloudflare:\n  api_token: sekrit-token-value\n  account_id: 0123\n  page_size: 5000\noutputs: []\n',
    );
    const failed = await runCli(['validate'], { env: { CF_ACCESS_SHIPPER_CONFIG: bad } });
    assert.equal(failed.code, 78);
    assert.match(failed.stderr, /cloudflare\.account_id: got 0123; must be a Cloudflare account id/);
    assert.match(failed.stderr, /cloudflare\.page_size: got 5000; must be one of 1, 5, 10, 20, 25, 50, 100, 1000/);
    assert.match(failed.stderr, /outputs: got a list; must list at least one output/);
    assert.doesNotMatch(failed.stderr, /sekrit/);
  });

  it('--help lists the commands and exits 0', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /convert/);
    assert.match(result.stdout, /validate/);
    const sub = await runCli(['convert', '--help']);
    assert.equal(sub.code, 0);
    assert.match(sub.stdout, /--structured-data/);
  });
});
