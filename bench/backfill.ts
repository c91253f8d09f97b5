/**
 * Backfill throughput and memory: N events (default 1,000,000) served by the Access API simulator
 * (generated on demand, in this process) → `backfill` of the built CLI → a file output. The CLI
 * runs under /usr/bin/time -v. Prints events/s, API requests against the ⌈N/page_size⌉ + 1 target,
 * and peak RSS. Run: npm run bench:backfill   (BENCH_EVENTS=… to change N)
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccessApiSimulator } from '../test/support/access-api-simulator.js';

const COUNT = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PAGE = Number(process.env.BENCH_PAGE_SIZE ?? 1000);
const FORMAT = process.env.BENCH_FORMAT ?? 'cef';
const ACCOUNT = '0123456789abcdef0123456789abcdef';
const root = fileURLToPath(new URL('../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(cli)) throw new Error('run `npm run build` first');

const startNs = 1_714_521_600_000_000_000n; // 2024-05-01T00:00:00Z
const stepNs = 500_000_000n; // one event every 0.5 s
const sim = await new AccessApiSimulator().start();
sim.setGenerated(ACCOUNT, { count: COUNT, startNs, stepNs, seed: 3 });
const dir = mkdtempSync(join(tmpdir(), 'bench-backfill-'));
const out = join(dir, 'out.log');
const config = join(dir, 'config.yaml');
writeFileSync(
  config,
  `cloudflare:
  base_url: ${sim.baseUrl}
  api_token: ${sim.token}
  account_id: ${ACCOUNT}
  page_size: ${PAGE}
  # The simulator has no budget to protect: measure the shipper, not the default 900 / 5 min.
  rate_limit: { requests: 100000, per: 5m }
state: { path: ${join(dir, 'state.json')} }
outputs:
  - { name: archive, type: file, path: ${out}, format: ${FORMAT} }
log: { level: warn }
`,
);
const since = new Date(Number(startNs / 1_000_000n)).toISOString();
const until = new Date(Number((startNs + stepNs * BigInt(COUNT)) / 1_000_000n) + 1).toISOString();

const child = spawn('/usr/bin/time', ['-v', cli, 'backfill', '--since', since, '--until', until, '--config', config], {
  stdio: ['ignore', 'pipe', 'pipe'],
});
let stderr = '';
child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
child.stdout.on('data', (d: Buffer) => process.stdout.write(d));
const started = Date.now();
const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
const seconds = (Date.now() - started) / 1000;
await sim.stop();

const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]);
// Counted as a stream: a million CEF lines are more text than one string may hold.
let lines = 0;
for await (const chunk of createReadStream(out))
  for (let i = (chunk as Buffer).indexOf(10); i !== -1; i = (chunk as Buffer).indexOf(10, i + 1)) lines++;
const target = Math.ceil(COUNT / PAGE) + 1; // keyset paging: one closing request that brings nothing new
console.log(`backfill ${COUNT} events, page_size ${PAGE}, format ${FORMAT}: exit ${code}`);
console.log(`  wall ${seconds.toFixed(1)} s, ${Math.round(COUNT / seconds).toLocaleString('en-US')} events/s`);
console.log(`  API requests ${sim.requests.length} (target ⌈N/page_size⌉ + 1 = ${target})`);
console.log(
  `  output ${lines} lines, ${(statSync(out).size / 1e6).toFixed(1)} MB; peak RSS ${(rssKb / 1024).toFixed(1)} MiB`,
);
if (code !== 0) console.log(stderr.split('\n').slice(-30).join('\n'));
rmSync(dir, { recursive: true, force: true });
