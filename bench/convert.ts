/**
 * convert throughput and memory: 1,000,000 NDJSON events through `convert` for each format,
 * measured with /usr/bin/time -v. Prints events/s and peak RSS. Run: npm run bench:convert
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { makeEvent, prng } from '../test/support/event-factory.js';

const COUNT = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const root = fileURLToPath(new URL('../', import.meta.url));
const outDir = `${root}bench/out`;
const input = `${outDir}/events-${COUNT}.ndjson`;
const cli = `${root}dist/cli/main.js`;

async function generate(): Promise<void> {
  if (existsSync(input)) return;
  mkdirSync(outDir, { recursive: true });
  const rand = prng(1);
  const out = createWriteStream(input);
  let at = 1_714_557_600_000_000_000n;
  for (let i = 0; i < COUNT; i++) {
    at += BigInt(Math.floor(rand() * 5_000_000_000));
    if (!out.write(`${JSON.stringify(makeEvent(rand, { atNs: at, digits: 5 }))}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

await generate();
if (!existsSync(cli)) throw new Error('run `npm run build` first');
console.log(`input: ${COUNT} events, ${(statSync(input).size / 1e6).toFixed(1)} MB NDJSON`);
for (const format of ['cef', 'json', 'ecs', 'rfc5424']) {
  const run = spawnSync('/usr/bin/time', ['-v', cli, 'convert', '--format', format, '--input', input], {
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 16 << 20,
  });
  const report = run.stderr.toString();
  const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1]);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(report);
  const seconds = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN;
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(report)?.[1]);
  console.log(
    `convert --format ${format.padEnd(7)} exit ${run.status}  wall ${seconds.toFixed(2)} s  ` +
      `${Math.round(COUNT / seconds).toLocaleString('en-US')} events/s  user CPU ${user.toFixed(2)} s  peak RSS ${(rssKb / 1024).toFixed(1)} MiB`,
  );
}
