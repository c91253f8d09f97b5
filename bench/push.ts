/**
 * The Logpush receiver's throughput: N http_requests records (default 1,000,000) pushed as gzip'd
 * NDJSON batches into `run`'s receiver, shipped to a file output or to Splunk HEC (simulator, gzip,
 * acks). Against the floor: gunzip + line split + JSON.parse of the same batches in this process.
 * Then peak RSS while several large pushes arrive at once (RSS should not follow the body size).
 * The CLI runs under /usr/bin/time -v.   Run: npm run build && npm run bench:push [file|hec|parallel]
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { HecSimulator } from '../test/support/hec-simulator.js';
import { postLogpush } from '../test/support/logpush-client.js';

const COUNT = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PER_BATCH = Number(process.env.BENCH_BATCH ?? 100_000);
const SECRET = 'bench-secret-0123456789abcdef';
/** push.slice_events (unset: the default). */
const SLICE = process.env.BENCH_SLICE;
/** push.read_in_worker (unset: the default, true). */
const IN_WORKER = process.env.BENCH_READ_IN_WORKER;
/** Records in each of the four parallel pushes (RSS against body size). */
const PARALLEL = Number(process.env.BENCH_PARALLEL_RECORDS ?? 300_000);
const which = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['file', 'hec', 'parallel'];
const root = fileURLToPath(new URL('../', import.meta.url));
const cli = process.env.BENCH_CLI ?? join(root, 'dist', 'cli', 'main.js');
if (!existsSync(cli)) throw new Error('run `npm run build` first');

function batch(from: number, n: number): Buffer {
  const lines: string[] = [];
  for (let i = from; i < from + n; i++) {
    lines.push(
      JSON.stringify({
        ClientIP: `203.0.${(i >> 8) & 255}.${i & 255}`,
        ClientRequestHost: 'wiki.example.com',
        ClientRequestMethod: i % 7 === 0 ? 'POST' : 'GET',
        ClientRequestURI: `/docs/page/${i}?ref=${i % 97}`,
        ClientRequestUserAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0',
        ClientRequestBytes: 700 + (i % 300),
        ClientCountry: 'de',
        EdgeStartTimestamp: 1714557600000000000 + i * 1_000_000,
        EdgeEndTimestamp: 1714557600000000000 + i * 1_000_000 + 20_000_000,
        EdgeResponseStatus: i % 10 === 0 ? 403 : 200,
        EdgeResponseBytes: 1000 + (i % 5000),
        RayID: `8f${i.toString(16).padStart(14, '0')}`,
        RequestHeaders: { 'cf-access-user': `user${i % 500}@example.com` },
      }),
    );
  }
  return gzipSync(lines.join('\n') + '\n', { level: 6 });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

const post = (port: number, body: Buffer): Promise<number> => postLogpush(port, body, SECRET);

function floor(batches: readonly Buffer[]): number {
  const started = process.hrtime.bigint();
  let n = 0;
  for (const body of batches) {
    const text = gunzipSync(body).toString('utf8');
    for (const line of text.split('\n')) if (line !== '') n += JSON.parse(line) === null ? 0 : 1;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return n / seconds;
}

async function run(
  name: string,
  output: string,
  batches: readonly Buffer[],
  perBatch: number,
  concurrent: number,
  hec?: HecSimulator,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-push-'));
  const port = await freePort();
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `cloudflare:\n  base_url: http://127.0.0.1:9/client/v4\n  api_token: x\n  account_id: 0123456789abcdef0123456789abcdef\npoll: { schedule: "0 0 1 1 *" }\nstate: { path: ${join(dir, 'state.json')} }\noutputs:\n  - ${output.replace('DIR', dir)}\nlog: { level: warn }\npush:\n  listen: 127.0.0.1:${port}\n  max_body: 512MiB\n  max_concurrent: 8\n${SLICE ? `  slice_events: ${SLICE}\n` : ''}${IN_WORKER ? `  read_in_worker: ${IN_WORKER}\n` : ''}  endpoints:\n    - { name: http, dataset: http_requests, secret: ${SECRET} }\n`,
  );
  // A process group of its own: SIGTERM reaches the daemon, not only /usr/bin/time (which would
  // leave the daemon running and report nothing).
  const child = spawn('/usr/bin/time', ['-v', cli, 'run', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 200; i++) {
    const ok = await post(port, gzipSync('{"content":"tests"}')).catch(() => 0);
    if (ok === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const events = batches.length * perBatch;
  const started = Date.now();
  let next = 0;
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: concurrent }, async () => {
      while (next < batches.length) {
        const body = batches[next++] as Buffer;
        statuses.push(await post(port, body));
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // SIGTERM to the daemon, not to /usr/bin/time (which would die without a report and leave it running).
  execFileSync('pkill', ['-TERM', '-P', String(child.pid)]);
  await exited;
  const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]);
  const cpu = /User time \(seconds\): ([\d.]+)[\s\S]*System time \(seconds\): ([\d.]+)/.exec(stderr);
  const compressed = batches.reduce((n, b) => n + b.length, 0);
  console.log(
    `${name}: ${events.toLocaleString('en-US')} events in ${batches.length} pushes of ${perBatch.toLocaleString('en-US')} (${(compressed / 2 ** 20).toFixed(1)} MiB gzip'd), ${concurrent} at once; answers ${[...new Set(statuses)].join(', ')}`,
  );
  console.log(
    `  wall ${seconds.toFixed(1)} s, ${Math.round(events / seconds).toLocaleString('en-US')} events/s, peak RSS ${(rssKb / 1024).toFixed(1)} MiB${cpu ? `, shipper CPU user ${cpu[1]} s, system ${cpu[2]} s` : ''}`,
  );
  if (hec)
    console.log(
      `  HEC indexed ${hec.eventCount.toLocaleString('en-US')} in ${hec.requests.filter((r) => r.path === '/services/collector/event').length} requests`,
    );
  rmSync(dir, { recursive: true, force: true });
}

const batches: Buffer[] = [];
for (let from = 0; from < COUNT; from += PER_BATCH) batches.push(batch(from, PER_BATCH));
console.log(
  `floor (gunzip + split + JSON.parse, one core): ${Math.round(floor(batches)).toLocaleString('en-US')} events/s`,
);
for (const mode of which) {
  if (mode === 'file')
    await run(
      'receiver → file (json)',
      '{ name: archive, type: file, path: DIR/out.ndjson, format: json }',
      batches,
      PER_BATCH,
      1,
    );
  if (mode === 'hec') {
    const hec = await new HecSimulator({ ack: true, countOnly: true }).start();
    await run(
      'receiver → HEC (cef, gzip, acks)',
      `{ name: splunk, type: splunk_hec, url: "${hec.url}", token: "${hec.token}", format: cef, ack: true, ack_poll_interval: 100ms, batch: { max_events: 1000 } }`,
      batches,
      PER_BATCH,
      1,
      hec,
    );
    await hec.stop();
  }
  if (mode === 'parallel') {
    // Four pushes of ~140 MB uncompressed each at once (300,000 records): RSS against body size.
    const big: Buffer[] = [];
    for (let k = 0; k < 4; k++) big.push(batch(COUNT + k * PARALLEL, PARALLEL));
    console.log(
      `parallel: 4 pushes of ${PARALLEL.toLocaleString('en-US')} records, ${(gunzipSync(big[0] as Buffer).length / 2 ** 20).toFixed(0)} MiB each uncompressed`,
    );
    await run(
      'receiver → file, 4 large pushes at once',
      '{ name: archive, type: file, path: DIR/out.ndjson, format: json }',
      big,
      PARALLEL,
      4,
    );
  }
}
