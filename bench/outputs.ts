/**
 * Output throughput: N events (default 1,000,000) from the Access API simulator through
 * `backfill` (CEF) into Splunk HEC (simulator, gzip, indexer acknowledgement on) or into a real
 * rsyslogd over TLS, or into the Elasticsearch `_bulk` simulator (ECS, gzip). The CLI runs under
 * /usr/bin/time -v; the simulators run in this process. Prints events/s, bytes sent, requests and
 * peak RSS.   Run: npm run bench:outputs [hec|hec2|syslog-tls|elasticsearch]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccessApiSimulator } from '../test/support/access-api-simulator.js';
import { EsBulkSimulator } from '../test/support/es-bulk-simulator.js';
import { HecSimulator } from '../test/support/hec-simulator.js';
import { Rsyslog } from '../test/support/rsyslog.js';
import { makePki } from '../test/support/tls-certs.js';

const COUNT = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PAGE = 1000;
const ACCOUNT = '0123456789abcdef0123456789abcdef';
const which = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['hec', 'syslog-tls'];
const root = fileURLToPath(new URL('../', import.meta.url));
const cli = process.env.BENCH_CLI ?? join(root, 'dist', 'cli', 'main.js');
if (!existsSync(cli)) throw new Error('run `npm run build` first');

const startNs = 1_714_521_600_000_000_000n;
const stepNs = 500_000_000n;
const since = new Date(Number(startNs / 1_000_000n)).toISOString();
const until = new Date(Number((startNs + stepNs * BigInt(COUNT)) / 1_000_000n) + 1).toISOString();

async function runBackfill(
  dir: string,
  output: string,
): Promise<{ code: number; seconds: number; rssMiB: number; stderr: string }> {
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `cloudflare:\n  base_url: ${api.baseUrl}\n  api_token: ${api.token}\n  account_id: ${ACCOUNT}\n  page_size: ${PAGE}\n  rate_limit: { requests: 100000, per: 5m }\nstate: { path: ${join(dir, 'state.json')} }\noutputs:\n  - ${output}\nlog: { level: warn }\n`,
  );
  const simulatorCpu = process.cpuUsage();
  // BENCH_NODE_FLAGS: run `node <flags> cli` instead of the binary's shebang (to compare V8 settings).
  const flags = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean);
  const command = flags ? [process.execPath, ...flags, cli] : [cli];
  const child = spawn(
    '/usr/bin/time',
    ['-v', ...command, 'backfill', '--since', since, '--until', until, '--config', config],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const started = Date.now();
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]);
  const sim = process.cpuUsage(simulatorCpu);
  stderr += `\nsimulator CPU (this process): ${((sim.user + sim.system) / 1e6).toFixed(2)} s\n`;
  return { code, seconds: (Date.now() - started) / 1000, rssMiB: rssKb / 1024, stderr };
}

function report(
  name: string,
  result: { code: number; seconds: number; rssMiB: number; stderr: string },
  delivered: number,
  extra: string,
): void {
  console.log(`${name}: ${COUNT} events, exit ${result.code}, delivered ${delivered}`);
  console.log(
    `  wall ${result.seconds.toFixed(1)} s, ${Math.round(COUNT / result.seconds).toLocaleString('en-US')} events/s, peak RSS ${result.rssMiB.toFixed(1)} MiB`,
  );
  console.log(`  ${extra}`);
  const cpu = /User time \(seconds\): ([\d.]+)[\s\S]*System time \(seconds\): ([\d.]+)/.exec(result.stderr);
  if (cpu)
    console.log(
      `  shipper CPU: user ${cpu[1]} s, system ${cpu[2]} s; ${/simulator CPU \(this process\): ([\d.]+) s/.exec(result.stderr)?.[0] ?? ''}`,
    );
  if (result.code !== 0) console.log(result.stderr.split('\n').slice(-25).join('\n'));
}

const api = await new AccessApiSimulator().start();
api.setGenerated(ACCOUNT, { count: COUNT, startNs, stepNs, seed: 5 });

if (which.includes('hec')) {
  const hec = await new HecSimulator({ ack: true, ackDelayMs: 20, countOnly: true }).start();
  const dir = mkdtempSync(join(tmpdir(), 'bench-hec-'));
  const result = await runBackfill(
    dir,
    `{ name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", format: cef, gzip: true, ack: true, ack_poll_interval: 100ms }`,
  );
  const eventRequests = hec.requests.filter((r) => r.path === '/services/collector/event');
  const bytes = eventRequests.reduce((n, r) => n + r.bytes, 0);
  report(
    'HEC (CEF, gzip, ack)',
    result,
    hec.eventCount,
    `bytes sent ${(bytes / 1e6).toFixed(1)} MB gzip'd in ${eventRequests.length} event requests + ${hec.requests.length - eventRequests.length} ack requests`,
  );
  await hec.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (which.includes('hec2')) {
  // Two indexers behind one output (url: a list): batches spread by requests in flight.
  const hecs = [
    await new HecSimulator({ ack: true, ackDelayMs: 20, countOnly: true }).start(),
    await new HecSimulator({ ack: true, ackDelayMs: 20, countOnly: true }).start(),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'bench-hec2-'));
  const urls = hecs.map((h) => `"${h.url}"`).join(', ');
  const result = await runBackfill(
    dir,
    `{ name: splunk, type: splunk_hec, url: [${urls}], token: "${hecs[0]!.token}", format: cef, gzip: true, ack: true, ack_poll_interval: 100ms }`,
  );
  const requests = hecs.flatMap((h) => h.requests);
  const eventRequests = requests.filter((r) => r.path === '/services/collector/event');
  const bytes = eventRequests.reduce((n, r) => n + r.bytes, 0);
  const delivered = hecs.reduce((n, h) => n + h.eventCount, 0);
  report(
    'HEC, two indexers (CEF, gzip, ack)',
    result,
    delivered,
    `bytes sent ${(bytes / 1e6).toFixed(1)} MB gzip'd in ${eventRequests.length} event requests + ${requests.length - eventRequests.length} ack requests; per indexer ${hecs.map((h) => h.eventCount).join(' / ')} events`,
  );
  for (const h of hecs) await h.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (which.includes('elasticsearch')) {
  const es = await new EsBulkSimulator({ countOnly: true }).start();
  const dir = mkdtempSync(join(tmpdir(), 'bench-es-'));
  const result = await runBackfill(dir, `{ name: elastic, type: elasticsearch, url: "${es.url}", gzip: true }`);
  report(
    'Elasticsearch (ECS, gzip, _bulk create)',
    result,
    es.docs.length,
    `${es.requests} bulk requests, ${es.creates} creates, ${es.conflicts} answered 409`,
  );
  await es.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (which.includes('syslog-tls')) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-syslog-'));
  const pki = makePki(dir);
  const rsyslog = await new Rsyslog(dir, { ca: pki.caCert, cert: pki.serverCert, key: pki.serverKey }).start();
  const result = await runBackfill(
    dir,
    `{ name: siem, type: syslog, host: 127.0.0.1, port: ${rsyslog.tlsPort}, transport: tls, format: cef, tls: { ca_file: ${pki.caCert} } }`,
  );
  const delivered = await rsyslog.waitForCount(COUNT, 60_000);
  await rsyslog.stop();
  const { statSync } = await import('node:fs');
  report(
    'syslog TLS into rsyslog (CEF, RFC 5424, octet counting)',
    result,
    delivered,
    `rsyslog wrote ${(statSync(rsyslog.output).size / 1e6).toFixed(1)} MB`,
  );
  rmSync(dir, { recursive: true, force: true });
}
await api.stop();
