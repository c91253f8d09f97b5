/**
 * convert throughput and memory: 1,000,000 NDJSON events through `convert` for each format,
 * measured with /usr/bin/time -v. Prints events/s and peak RSS. Run: npm run bench:convert
 * BENCH_RUNS=N repeats each format N times and prints the best and the median run as well: on a
 * shared virtual machine the same binary varies by ±15 % from run to run.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { makeEvent, prng } from '../test/support/event-factory.js';

const COUNT = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const FORMATS = (process.env.BENCH_FORMATS ?? 'cef,json,ecs,rfc5424').split(',');
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
interface Run {
  seconds: number;
  user: number;
  rssMiB: number;
  status: number | null;
}

function runOnce(format: string): Run {
  const run = spawnSync('/usr/bin/time', ['-v', cli, 'convert', '--format', format, '--input', input], {
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 16 << 20,
  });
  const report = run.stderr.toString();
  const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1]);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(report);
  const seconds = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN;
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(report)?.[1]);
  return { seconds, user, rssMiB: rssKb / 1024, status: run.status };
}

const rate = (seconds: number): string => Math.round(COUNT / seconds).toLocaleString('en-US');

for (const format of FORMATS) {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    const run = runOnce(format);
    runs.push(run);
    console.log(
      `convert --format ${format.padEnd(7)} exit ${run.status}  wall ${run.seconds.toFixed(2)} s  ` +
        `${rate(run.seconds)} events/s  user CPU ${run.user.toFixed(2)} s  peak RSS ${run.rssMiB.toFixed(1)} MiB`,
    );
  }
  if (RUNS > 1) {
    const sorted = runs.map((r) => r.seconds).sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
    const peak = Math.max(...runs.map((r) => r.rssMiB));
    console.log(
      `  ${format}: ${RUNS} runs, best ${rate(sorted[0] ?? NaN)} events/s, median ${rate(median)} events/s, highest peak RSS ${peak.toFixed(1)} MiB`,
    );
  }
}
