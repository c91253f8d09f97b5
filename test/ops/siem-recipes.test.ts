import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { recordFormatter } from '../../src/datasets/formatters.js';
import { POLLED } from '../../src/datasets/index.js';
import { dissect, type LsPlugin, parseLogstash } from '../support/logstash-config.js';
import { ACCOUNT, ALLOWED_LOGIN } from '../support/sample-events.js';

const doc = (path: string) => readFileSync(new URL(`../../docs/siem/${path}`, import.meta.url), 'utf8');

const cefOptions = { version: '1.0.0', severity: { allowed: 3, denied: 6 } };

describe('docs/siem recipes', () => {
  it('Logstash CEF pipeline parses: tcp input with the cef codec on LF-delimited lines', () => {
    const config = parseLogstash(doc('logstash/cf-access-cef.conf'));
    const tcp = config.input![0]!;
    assert.equal(tcp.plugin, 'tcp');
    assert.equal(tcp.settings.port, 5514);
    const codec = tcp.settings.codec as LsPlugin;
    assert.equal(codec.plugin, 'cef');
    assert.equal(codec.settings.delimiter, '\\n');
    assert.equal(config.output![0]!.plugin, 'elasticsearch');
  });

  it('Logstash ECS pipeline parses, and its dissect + json steps recover the ECS document from an RFC 5424 line', () => {
    const config = parseLogstash(doc('logstash/cf-access-ecs.conf'));
    const mapping = (config.filter![0]!.settings.mapping as Record<string, string>).message!;
    const line = recordFormatter(
      POLLED,
      'rfc5424',
      {
        cef: cefOptions,
        ecs: { includeOriginal: false },
        syslog: {
          facility: 16,
          severity: { allowed: 6, denied: 4 },
          appName: 'cf-access',
          hostname: 'shipper01',
          procId: '42',
          structuredData: false,
        },
      },
      'ecs',
    )(ALLOWED_LOGIN, { accountId: ACCOUNT });
    const fields = dissect(mapping, line)!;
    assert.equal(fields['[syslog][hostname]'], 'shipper01');
    const ecs = JSON.parse(fields['[@metadata][json]']!) as { user: { email: string }; event: { outcome: string } };
    assert.equal(ecs.user.email, 'alice@example.com');
    assert.equal(ecs.event.outcome, 'success');
  });

  it('Elastic Agent CEF integration settings parse: TCP with rfc6587 framing on 9003, decode_cef', () => {
    const policy = parseYaml(doc('elastic-agent/cef-integration.yml')) as {
      inputs: { type: string; streams: { host: string; framing?: string; processors: { decode_cef?: unknown }[] }[] }[];
    };
    const tcp = policy.inputs.find((i) => i.type === 'tcp')!;
    assert.equal(tcp.streams[0]!.host, '0.0.0.0:9003');
    assert.equal(tcp.streams[0]!.framing, 'rfc6587');
    assert.ok(tcp.streams[0]!.processors.some((p) => p.decode_cef !== undefined));
  });

  it('the Logstash parser rejects a broken file', () => {
    assert.throws(() => parseLogstash('input { tcp { port => 1 }'), /unterminated/);
    assert.throws(() => parseLogstash('inptu { }'), /unknown section/);
  });
});
