import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/cli.js';
import { tempDir } from '../support/harness.js';

const BIN = join(ROOT, 'dist', 'cli', 'main.js');

/** The unit with ExecStart pointing at this checkout's binary (verify checks that it exists). */
function localUnit(name: string, instance?: string): string {
  const dir = tempDir('systemd-');
  const text = readFileSync(join(ROOT, 'systemd', name), 'utf8').replaceAll('/usr/local/bin/cf-access-shipper', BIN);
  const file = join(dir, instance ? name.replace('@.', `@${instance}.`) : name);
  writeFileSync(file, text);
  if (instance) copyFileSync(file, join(dir, name));
  return file;
}

describe('systemd units', function () {
  this.timeout(60_000);
  before(function () {
    assert.ok(existsSync(BIN), 'dist/cli/main.js is built (npm ci runs the build)');
  });

  it('the daemon unit passes systemd-analyze verify and keeps a low exposure', () => {
    const unit = localUnit('cf-access-shipper.service');
    const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), '', verify.stderr);
    const security = execFileSync('systemd-analyze', ['security', '--offline=yes', unit], { encoding: 'utf8' });
    const score = Number(/Overall exposure level for .*: (\d+\.\d+)/.exec(security)?.[1]);
    console.log(`      systemd-analyze security exposure: ${score}`);
    assert.ok(score <= 2.0, `exposure ${score}`);
  });

  it('the daemon unit has the settings operations depend on', () => {
    const text = readFileSync(join(ROOT, 'systemd', 'cf-access-shipper.service'), 'utf8');
    for (const line of [
      'Type=exec',
      'ExecStartPre=/usr/local/bin/cf-access-shipper validate --config /etc/cf-access-shipper/config.yaml',
      'ExecStart=/usr/local/bin/cf-access-shipper run --config /etc/cf-access-shipper/config.yaml',
      'Restart=on-failure',
      'RestartPreventExitStatus=78',
      'DynamicUser=yes',
      'StateDirectory=cf-access-shipper',
      'LoadCredential=cf_api_token:',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'NoNewPrivileges=yes',
      'CapabilityBoundingSet=\n',
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
      'SystemCallFilter=@system-service',
      'UMask=0077',
    ]) {
      assert.ok(text.includes(line), `has ${line.trim()}`);
    }
    assert.ok(!/^MemoryDenyWriteExecute=yes/m.test(text), 'MemoryDenyWriteExecute stays off (V8 JIT)');
    const stop = Number(/^TimeoutStopSec=(\d+)s$/m.exec(text)?.[1]);
    assert.ok(stop > 30, 'TimeoutStopSec above the default shutdown_timeout of 30 s');
  });

  it('the backfill template verifies with an instance', () => {
    const unit = localUnit('cf-access-shipper-backfill@.service', '7d');
    const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    assert.ok(readFileSync(unit, 'utf8').includes('backfill --since %I'));
  });
});
