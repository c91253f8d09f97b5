/** The shipped index template (from @elastic/ecs) and `setup elasticsearch` / `check` / `validate` against the simulator. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
import { emittedEcsFields, indexTemplate } from '../support/ecs-template.js';
import { ECS_TABLE_VERSION, ecsField } from '../support/ecs-validator.js';
import { EsBulkSimulator } from '../support/es-bulk-simulator.js';
import { tempDir, writeConfig } from '../support/harness.js';

const shipped = () =>
  JSON.parse(
    readFileSync(new URL('../../integrations/elasticsearch/index-template.json', import.meta.url), 'utf8'),
  ) as Record<string, unknown>;

type Props = Record<string, { type?: string; properties?: Props }>;

function mappedType(template: Record<string, unknown>, flat: string): string | undefined {
  let props = (template.template as { mappings: { properties: Props } }).mappings.properties;
  const parts = flat.split('.');
  for (const part of parts.slice(0, -1)) props = props[part]?.properties ?? {};
  return props[parts[parts.length - 1] ?? '']?.type;
}

describe('integrations/elasticsearch: the index template', () => {
  it('the shipped file is what @elastic/ecs gives for the fields the formatters emit (npm run generate:es-template)', () => {
    assert.deepEqual(shipped(), indexTemplate());
  });

  it('maps every emitted ECS field with its ECS type; vendor namespaces are flattened', () => {
    const template = shipped();
    const fields = emittedEcsFields();
    console.log(`      ${fields.length} ECS fields mapped, ECS ${ECS_TABLE_VERSION}`);
    for (const name of ['@timestamp', 'source.ip', 'client.ip', 'related.user', 'event.reason', 'user_agent.original'])
      assert.ok(fields.includes(name), name);
    for (const name of fields) assert.equal(mappedType(template, name), ecsField(name)?.type, name);
    assert.equal(mappedType(template, 'cloudflare.access'), 'flattened');
    assert.equal(mappedType(template, 'cloudflare.http_requests'), 'flattened');
    assert.deepEqual(template.index_patterns, ['logs-cloudflare_access.*-*']);
    assert.deepEqual(template.data_stream, {});
  });

  it('setup elasticsearch installs it; check and validate describe the output; a wrong key fails', async () => {
    const es = await new EsBulkSimulator({ authorization: 'ApiKey a2V5' }).start();
    try {
      const dir = tempDir();
      const outputs = (key: string) =>
        `  - { name: elastic, type: elasticsearch, url: "${es.url}", api_key: "${key}" }\n  - { name: audit, type: elasticsearch, url: "${es.url}", api_key: "${key}", data_stream: logs-audit.cloudflare-prod }`;
      const config = writeConfig(dir, {
        baseUrl: 'http://127.0.0.1:9',
        statePath: join(dir, 'state.json'),
        outputs: outputs('a2V5'),
      });
      const setup = await runCli(['setup', 'elasticsearch', '--config', config]);
      assert.equal(setup.code, 0, setup.stderr);
      assert.match(
        setup.stdout,
        /ok {3}output elastic .*index template cf-access-shipper installed for logs-cloudflare_access\.\*-\*/,
      );
      assert.match(
        setup.stdout,
        /ok {3}output audit .*cf-access-shipper-audit installed for logs-audit\.cloudflare-prod/,
      );
      assert.deepEqual(es.templates.get('cf-access-shipper'), shipped());
      assert.deepEqual((es.templates.get('cf-access-shipper-audit') as { index_patterns: string[] }).index_patterns, [
        'logs-audit.cloudflare-prod',
      ]);

      const validate = await runCli(['validate', '--config', config]);
      assert.match(
        validate.stdout,
        /elastic: elasticsearch http:\/\/127\.0\.0\.1:\d+, ECS documents, data stream logs-cloudflare_access\.<dataset>-default, API key/,
      );
      assert.match(validate.stdout, /WARNING: plain http/);
      assert.match(validate.stdout, /network: output elastic → http:\/\/127\.0\.0\.1:\d+ direct/);
      assert.ok(!validate.stdout.includes('a2V5'), 'the key is not printed');

      const check = await runCli(['check', '--config', config]);
      assert.match(check.stdout, /output elastic \(elasticsearch\).*Elasticsearch 9\.1\.0, cluster simulated/);

      const wrong = writeConfig(
        dir,
        { baseUrl: 'http://127.0.0.1:9', statePath: join(dir, 'state.json'), outputs: outputs('bad') },
        'wrong.yaml',
      );
      const refused = await runCli(['setup', 'elasticsearch', '--output', 'elastic', '--config', wrong]);
      assert.equal(refused.code, 1);
      assert.match(refused.stdout, /FAIL output elastic .*manage_index_templates/);
      const checkWrong = await runCli(['check', '--config', wrong]);
      assert.match(checkWrong.stdout, /credentials refused \(401\)/);
      assert.equal((await runCli(['setup', 'kibana', '--config', config])).code, 2);
    } finally {
      await es.stop();
    }
  });
});
