/**
 * `npm run demo`: the real pipeline with no credentials. Starts the local Access API simulator
 * (the one the tests use) on an ephemeral 127.0.0.1 port with a few hundred realistic events,
 * runs `run --once` of the built CLI with a stdout CEF output and a temporary state file, then
 * shows what it saved (`status`) and that a second run ships nothing twice.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccessApiSimulator, spreadEvents } from '../test/support/access-api-simulator.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');
const ACCOUNT = '0123456789abcdef0123456789abcdef';

function run(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cli, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

if (!existsSync(cli)) {
  process.stderr.write('demo: dist/ is missing; run `npm ci` (or `npm run build`) first\n');
  process.exit(1);
}
const sim = await new AccessApiSimulator({ outOfWindowRows: true, zeroTotalCount: true }).start();
const dir = mkdtempSync(join(tmpdir(), 'cf-access-shipper-demo-'));
try {
  const now = Date.now();
  sim.addEvents(ACCOUNT, spreadEvents(300, now - 3 * 3600_000, now - 3 * 60_000));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `cloudflare:
  base_url: ${sim.baseUrl}
  api_token: ${sim.token}
  accounts: [{ id: ${ACCOUNT}, name: demo }]
  page_size: 100
poll: { settle: 2m, overlap: 10m, initial_lookback: 24h }
state: { path: ${join(dir, 'state.json')} }
outputs:
  - { name: console, type: stdout, format: cef }
log: { level: info }
`,
  );
  process.stderr.write(`demo: Access API simulator at ${sim.baseUrl} with 300 events; state in ${dir}\n`);
  process.stderr.write('demo: cf-access-shipper run --once (CEF on stdout, logs on stderr)\n\n');
  let code = await run(['run', '--once', '--config', config]);
  if (code === 0) {
    process.stderr.write('\ndemo: what the state file now holds (cf-access-shipper status):\n');
    code = await run(['status', '--config', config]);
  }
  if (code === 0) {
    process.stderr.write('\ndemo: a second run --once reads only what is new and ships nothing twice:\n');
    code = await run(['run', '--once', '--config', config]);
  }
  process.stderr.write(`\ndemo: ${sim.requests.length} API requests served; done (exit ${code})\n`);
  process.exitCode = code;
} finally {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
}
